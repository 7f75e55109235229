/* hessnorm — internal: what the dataset loaders share.  Not installed. */
#ifndef HN_FORMATS_DATASET_H
#define HN_FORMATS_DATASET_H
#include <stddef.h>

/* The OpenCV digit sheet holds 500 digits of each class, in class order
 * (digits_png.c reads it, dataset_find.c splits it into train and test). */
#define HN_DIGITS_PER_CLASS 500

/* x[i] = b[i] / 255 for i < n: pixel bytes to [0,1]. */
void hn_bytes_to_unit(const unsigned char *b, size_t n, double *x);

#endif
