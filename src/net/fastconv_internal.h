/* hessnorm — internal: the batched passes' workspace and chunk kernels, shared by fastconv*.c. */
#ifndef HN_FASTCONV_INTERNAL_H
#define HN_FASTCONV_INTERNAL_H
#include <stddef.h>
#include "hessnorm/alloc.h"
#include "hessnorm/fastconv.h"
#include "base/threads.h"

/* ------------------------------------------------------------ GEMM (fastconv.c) */

/* C (M x N) = op(A) op(B) + beta C, row-major, N cut into pieces. */
void hn_fc_gemm(int ta, int tb, size_t M, size_t N, size_t K, const double *A, size_t lda,
                const double *B, size_t ldb, double beta, double *C, size_t ldc);
/* C (M x N) = A (M x K) B^T + beta C, B stored N x K, K cut into pieces. */
void hn_fc_gemm_nt(size_t M, size_t N, size_t K, const double *A, size_t lda, const double *B,
                   size_t ldb, double beta, double *C, size_t ldc);

/* ------------------------------------------------------------ workspace (fastconv.c) */

#define HN_FC_CH HN_FAST_CHUNK
/* Chunks per reduction round: the partial results of HN_FC_SUPER chunks are
 * computed in parallel, then added in chunk order. */
#define HN_FC_SUPER 16
#define HN_FC_RED_BLOCK 1024

typedef struct {
    size_t ck, howo, insz, outsz;  /* ck = ci*kh*kw (linear ops) */
    int lin, k1;                   /* linear op; 1x1 kernel (its input is its own col) */
} hn_fc_linfo;

/* One thread's buffers for a chunk of at most HN_FC_CH samples.  Batches of
 * "replicas" (the K unit cotangents of a Jacobian, the directions of an
 * HVP) hold B = r*nb blocks, block b = j*nb + n being replica j of sample
 * n: replica j of every sample is one contiguous column range of a GEMM. */
typedef struct {
    size_t nb;        /* samples in the current chunk */
    double **act;     /* n_layers + 1: activations, HN_FC_CH blocks */
    double **col;     /* n_layers: im2col of act[i] (k > 1 linear ops) */
    size_t **amax;    /* n_layers: max-pool choice, index inside the input plane */
    double **ract;    /* n_layers + 1: tangents, rcap*HN_FC_CH blocks */
    double *colbuf, *rcol, *dcol, *wbuf, *J;
    double **rcl;     /* n_layers: im2col of ract[i] inside rcol (k > 1 linear ops after the first) */
    double *d[2], *rd[2];
    double *g, *p, *z, *rg, *kk;
    double *loss;     /* HN_FC_CH per-sample losses */
    double lsum;      /* sum of the chunk's losses */
} hn_fc_chunk;

struct hn_fast {
    const hn_model *m;
    int threads;
    size_t P, K, L;
    hn_fc_linfo *li;
    size_t rcap;      /* directions the R buffers hold (0: none) */
    int jac;          /* Jacobian buffers allocated */
    hn_fc_chunk **ck;
    double *slots;    /* HN_FC_SUPER x max(rcap, 1) x P */
    double *lsum;     /* HN_FC_SUPER */
    int *rcs;         /* HN_FC_SUPER */
    /* structured linear head (d inputs): its gradient is one GEMM per round
     * over the round's head inputs hx (d x S) and logit cotangents hd (K x S),
     * S = HN_FC_SUPER*HN_FC_CH, instead of a per-chunk slot */
    size_t hdim;
    double *hx, *hd;
};

/* n1 * n2 * n3 doubles, or NULL on overflow / out of memory (0 -> 1). */
static inline double *hn_fc_dalloc3(size_t n1, size_t n2, size_t n3)
{
    size_t t;
    if (hn_mul3_size(n1, n2, n3, &t) != 0 || t > (size_t)-1 / sizeof(double))
        return NULL;
    return hn_calloc(t ? t : 1, sizeof(double));
}

/* (Re)allocate every thread's chunk for rcap directions and, if jac, the
 * Jacobian buffers.  Called outside parallel regions only. */
int hn_fc_fast_grow(hn_fast *F, size_t rcap, int jac, hn_err *err);

/* ------------------------------------------------------------ chunk passes (fastconv_pass.c) */

/* out (input-sized) = Lambda_i^T in for B = r*nb blocks (replica-major). */
void hn_fc_fixed_T(const hn_layer *ly, const hn_fc_chunk *c, size_t i, size_t r, const double *in,
                   double *out);
/* Forward pass of items t0 .. t0+nb-1: activations, cols, pool choices. */
void hn_fc_ck_forward(const hn_fast *F, hn_fc_chunk *c, const double *theta, const hn_samples *s,
                      const size_t *idx, size_t t0, size_t nb);
/* Tangent (R-operator) forward pass for r directions V (r x P). */
void hn_fc_ck_rforward(const hn_fast *F, hn_fc_chunk *c, const double *theta, const double *V, size_t r);

enum { HN_FC_OUT_SUM = 0, HN_FC_OUT_JAC = 1, HN_FC_OUT_JAC_BODY = 2, HN_FC_OUT_SUM_BODY = 3 };

/* A last layer that is a plain linear head on a flat (d, 1, 1) input has
 * the logit Jacobian block I_K (x) x^T: OUT_JAC_BODY leaves it unwritten. */
static inline int hn_fc_head_structured(const hn_fast *F)
{
    const hn_layer *ly = &F->m->layers[F->L - 1];
    return ly->type == HN_LINEAR && ly->in.h * ly->in.w == 1;
}

/* Reverse sweep from the logits' cotangent c->d[0]; modes and arguments
 * at its definition. */
void hn_fc_ck_backward(const hn_fast *F, hn_fc_chunk *c, const double *theta, size_t dr, int mode,
                       double *out, size_t ldo, const double *V, size_t r, double *const *dcache);
/* Loss of sample n of the chunk: g = dl/dz, p = softmax. */
double hn_fc_ck_loss(const hn_fast *F, hn_fc_chunk *c, const hn_samples *s, const size_t *idx,
                     size_t t0, size_t n);

/* ------------------------------------------------------------ chunk driver (fastconv_pass.c) */

typedef int (*hn_fc_job_fn)(hn_fast *F, hn_fc_chunk *c, size_t t0, size_t nb, double *slot, void *ctx);

/* Run fn on every chunk of n items.  slot_len > 0: each chunk's partial
 * result (slot_len doubles, every one written by fn) is added into acc in chunk
 * order; the chunks' c->lsum are summed the same way into *lacc. */
typedef void (*hn_fc_post_fn)(hn_fast *F, size_t t_first, size_t cnt, void *ctx);

int hn_fc_run_chunks(hn_fast *F, size_t n, size_t slot_len, double *acc, double *lacc,
                     hn_fc_job_fn fn, void *ctx, hn_fc_post_fn post);
/* The workspace fits m (same architecture), the samples fit the model,
 * indices and labels are in range; `who` prefixes the message. */
int hn_fc_check_args(const hn_fast *F, const hn_model *m, const hn_samples *s, const size_t *idx,
                     size_t n, int need_labels, const char *who, hn_err *err);

#endif
