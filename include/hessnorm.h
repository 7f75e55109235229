/* hessnorm — umbrella header. */
#ifndef HESSNORM_H
#define HESSNORM_H
#include "hessnorm/error.h"
#include "hessnorm/alloc.h"
#include "hessnorm/model.h"
#include "hessnorm/safetensors.h"
#include "hessnorm/io.h"
#include "hessnorm/layers.h"
#include "hessnorm/matrices.h"
#include "hessnorm/spectra.h"
#include "hessnorm/hessian.h"
#include "hessnorm/fastconv.h"
#include "hessnorm/inspect.h"
#include "hessnorm/report.h"
#include "hessnorm/audit.h"
#include "hessnorm/data.h"
#include "hessnorm/train.h"
#include "hessnorm/experiment.h"
#endif
