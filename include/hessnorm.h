/* hessnorm — umbrella header: every public header, in layer order
 * (base, formats, linalg, net, paper, audit, experiment; docs/dev.md). */
#ifndef HESSNORM_H
#define HESSNORM_H
#include "hessnorm/error.h"
#include "hessnorm/alloc.h"
#include "hessnorm/file.h"
#include "hessnorm/buf.h"
#include "hessnorm/progress.h"
#include "hessnorm/safetensors.h"
#include "hessnorm/npy.h"
#include "hessnorm/model.h"
#include "hessnorm/data.h"
#include "hessnorm/gnuplot.h"
#include "hessnorm/spectra.h"
#include "hessnorm/eigsmall.h"
#include "hessnorm/dense.h"
#include "hessnorm/lanczos.h"
#include "hessnorm/kron.h"
#include "hessnorm/layers.h"
#include "hessnorm/fastconv.h"
#include "hessnorm/train.h"
#include "hessnorm/matrices.h"
#include "hessnorm/hessian.h"
#include "hessnorm/outer.h"
#include "hessnorm/inspect.h"
#include "hessnorm/audit.h"
#include "hessnorm/experiment.h"
#endif
