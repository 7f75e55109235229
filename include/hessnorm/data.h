/* hessnorm — dataset loaders for the experiments.
 *
 * Formats, each read from the real file layout:
 *   IDX (MNIST, Fashion-MNIST): big-endian header, magic 0x00000803 for
 *     images (ubyte, 3 dims n, rows, cols) and 0x00000801 for labels (ubyte,
 *     1 dim n); raw or gzip-compressed (detected by the 1f 8b magic, not by
 *     the file name).
 *   CIFAR-10 binary: records of 1 label byte + 3072 pixel bytes (3x32x32,
 *     channel-major), concatenated; no header.  Raw or gzip.
 *   OpenCV digits.png: 2000x1000 grey sheet of 20x20 cells, 100 per row,
 *     5000 digits, 500 per class in class order (cell rows 0-4 are class 0,
 *     rows 5-9 class 1, ...).  Each 20x20 cell is padded with 4 zero pixels
 *     on every side to 28x28, the MNIST frame (MNIST digits sit in a 20x20
 *     box inside 28x28; no centre-of-mass shift is applied).
 *
 * Every loader checks a header's sizes against the bytes actually present
 * before allocating from them, and returns 0 or a negative HN_E* code with a
 * one-line reason in err naming the file and the field:
 *   HN_EINVAL  bad argument (NULL, unknown dataset name, empty path list)
 *   HN_EIO     file missing/unreadable
 *   HN_EFORMAT wrong magic, truncated or corrupt file, trailing bytes,
 *              zero dims, image/label count mismatch, wrong PNG size
 *   HN_ERANGE  sizes that overflow size_t, label outside 0..9
 *   HN_ENOMEM  allocation failed
 * On failure *out is NULL and nothing is leaked. */
#ifndef HESSNORM_DATA_H
#define HESSNORM_DATA_H
#include <stddef.h>
#include "hessnorm/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n samples of c x h x w pixels.  x holds n*c*h*w doubles in C order
 * (sample, channel, row, column), pixel bytes scaled by 1/255 to [0,1];
 * y holds n labels in 0..9.  Owns x and y, and source: the file the
 * images came from (set by hn_dataset_find for its messages, else NULL). */
typedef struct {
    size_t n, c, h, w;
    double *x;
    unsigned char *y;
    char *source;
} hn_dataset;

/* Default locations, overridable at compile time with -D. */
#ifndef HN_FASHION_MNIST_DIR
#define HN_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist" /* Debian dataset-fashion-mnist */
#endif
#ifndef HN_DIGITS_PNG
#define HN_DIGITS_PNG "/usr/share/doc/opencv-doc/examples/data/digits.png" /* Debian opencv-doc */
#endif

/* Allocate a zero-filled dataset of n x c x h x w (all > 0, product
 * overflow-checked).  Free with hn_dataset_free. */
int hn_dataset_alloc(size_t n, size_t c, size_t h, size_t w, hn_dataset **out, hn_err *err);

/* Free d and its arrays; NULL is a no-op. */
void hn_dataset_free(hn_dataset *d);

/* Load an IDX image file (n x rows x cols ubyte) and its IDX label file.
 * Each may be raw or gzip.  Result: n x 1 x rows x cols.  Errors: wrong
 * magic, zero or overflowing dims, truncated data, bytes after the data,
 * counts that disagree, label > 9. */
int hn_idx_load(const char *images_path, const char *labels_path, hn_dataset **out,
                hn_err *err);

/* Load and concatenate n_paths CIFAR-10 binary batch files (in the given
 * order).  Result: N x 3 x 32 x 32.  Errors: empty file, size not a
 * multiple of 3073, label > 9. */
int hn_cifar10_load(const char *const *batch_paths, size_t n_paths, hn_dataset **out,
                    hn_err *err);

/* Load the OpenCV digits sheet.  Result: 5000 x 1 x 28 x 28 in sheet order
 * (cell row-major), labels = cell row / 5.  8-bit grey is read as is;
 * RGB(A), grey+alpha, palette, 1/2/4/16-bit and interlaced PNGs are
 * converted to 8-bit grey by libpng transforms (alpha dropped, 16-bit
 * scaled, RGB by libpng's default luminance weights, exact when R=G=B).
 * Errors: not a PNG, width/height other than 2000x1000, truncated or
 * corrupt (CRC, zlib) data. */
int hn_digits_png_load(const char *path, hn_dataset **out, hn_err *err);

/* Find and load a standard dataset.
 *   name: "mnist", "fashion-mnist" or "cifar10"; train: 1 train split, 0 test.
 *   data_dir given:
 *     mnist/fashion-mnist: {train,t10k}-images-idx3-ubyte and
 *       {train,t10k}-labels-idx1-ubyte, raw preferred over .gz (the
 *       dotted names train-images.idx3-ubyte etc. are accepted too);
 *     cifar10: data_batch_1.bin .. data_batch_5.bin (train) or
 *       test_batch.bin (test), in data_dir or data_dir/cifar-10-batches-bin/.
 *   data_dir NULL (Debian defaults):
 *     fashion-mnist: HN_FASHION_MNIST_DIR (the *.gz files of the package);
 *     mnist: the OpenCV digits sheet HN_DIGITS_PNG, split deterministically
 *       per class: train = the first 400 digits of each class (4000),
 *       test = the last 100 of each class (1000), in class order;
 *     cifar10: HN_EINVAL — CIFAR-10 is not packaged in Debian, a data_dir
 *       is required.
 *   data_dir a regular file, name mnist: a digits sheet in the OpenCV
 *     layout (2000x1000, 50x100 digits of 20x20, 500 per class), split as
 *     HN_DIGITS_PNG is.
 * Missing files are HN_EIO naming the directory and the file names tried. */
int hn_dataset_find(const char *name, const char *data_dir, int train, hn_dataset **out,
                    hn_err *err);

/* Copy samples start .. start+count-1 of d into a new dataset.
 * Errors: count 0 or range past d->n (HN_ERANGE). */
int hn_dataset_subset(const hn_dataset *d, size_t start, size_t count, hn_dataset **out,
                      hn_err *err);

#ifdef __cplusplus
}
#endif
#endif
