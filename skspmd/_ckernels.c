/* Fused one-pass kernels for the memory-bound fits (optional C extension).
 *
 * The NumPy versions in skspmd/_kernels.py read each cached block several
 * times (one NumPy call per statistic); these read every element once, so
 * the fits run near the memory bandwidth. The module takes plain buffers
 * (no NumPy headers are needed to build it) and is optional: when it did not
 * build, skspmd/_kernels.py uses the NumPy versions, which give the same
 * results to round-off and are tested against these.
 *
 * block_moments(X, out, block_rows)
 *     X: C-contiguous float64 or float32 array (n, d). out: float64 array
 *     (n_blocks, 4, d), n_blocks = ceil(n / block_rows). For each block of
 *     block_rows rows, with s = the block's first row: out[b, 0] = sum(x - s),
 *     out[b, 1] = sum((x - s)**2), out[b, 2] = min, out[b, 3] = max.
 *     Shifting by a row of the block keeps the centred sum of squares exact
 *     (no cancellation) unless that row lies far from the block's mean,
 *     which the caller checks. NaN or inf anywhere makes out[b, 0] non-finite.
 *
 * group_sums(X, rows, weights, out)
 *     X: C-contiguous float64 or float32 (n, d); rows: int64 (n,) group of
 *     each row (0 <= rows[i] < n_groups); weights: float64 (n,); out: float64
 *     (n_groups, d), accumulated: out[rows[i]] += weights[i] * X[i]. Returns
 *     the minimum element of X (NaN is skipped: it reaches ``out`` instead,
 *     since every row is multiplied in, even with weight 0), for the
 *     non-negativity check of naive Bayes.
 *
 * radius_candidates(X, Y, xn, yn, r2, tau)
 *     X: C-contiguous float64 (nq, d) query rows; Y: float64 (ny, d) rows of a
 *     block; xn, yn: float64 squared norms of their rows. Returns the pairs
 *     (i, j) whose distance can be within the radius, as three bytearrays:
 *     int64 counts per query row (nq), int64 columns j (row after row, in
 *     increasing j) and float64 ``v = xn[i] + yn[j] - 2 x_i . y_j``. A pair is
 *     returned when ``v - tau * (xn[i] + yn[j]) <= r2``: with ``tau`` at least
 *     the relative error of the expansion (the caller's bound), no pair whose
 *     distance rounds to at most ``r2`` in any summation order is missed. The
 *     caller decides the candidates exactly. The dot products run in register
 *     tiles of 4 query rows x 16 block rows (FMA where the CPU has it); only
 *     the rare candidates leave the registers.
 *
 * knn_candidates(X, Y, xn, yn, vals, inds)
 *     X: float64 (nq, d) query rows; Y: float64 (ny, d); xn, yn: squared norms;
 *     vals: float64 (nq, m), inds: int64 (nq, m), written: per query row, the
 *     m smallest ``xn[i] + yn[j] - 2 x_i . y_j`` (ascending; ties in any
 *     order) and their rows j (m <= ny). The expansion runs in the register
 *     tiles of radius_candidates; a row's list is touched only by the rare
 *     block rows below its current m-th value. The caller decides exactly.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int
get_matrix(PyObject *obj, Py_buffer *view, Py_ssize_t *n, Py_ssize_t *d, int *is_f32)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->ndim != 2 || view->format == NULL ||
        !((view->format[0] == 'd' && view->itemsize == 8) ||
          (view->format[0] == 'f' && view->itemsize == 4))) {
        PyErr_SetString(PyExc_TypeError, "expected a C-contiguous 2-D float64 or float32 array");
        PyBuffer_Release(view);
        return -1;
    }
    *n = view->shape[0];
    *d = view->shape[1];
    *is_f32 = view->format[0] == 'f';
    return 0;
}

static int
get_vector(PyObject *obj, Py_buffer *view, int writable, char code, Py_ssize_t itemsize,
           Py_ssize_t length)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    if (view->format == NULL || view->format[0] != code || view->itemsize != itemsize ||
        view->len != length * itemsize) {
        PyErr_Format(PyExc_TypeError, "expected a contiguous buffer of %zd items of type '%c'",
                     length, code);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* Each kernel is compiled for AVX-512, AVX2 and the baseline; the loader picks
 * the widest the CPU has (GCC function multiversioning), so one build serves
 * every x86-64 CPU at its own vector width. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define WIDEST_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDEST_SIMD
#endif

#define MOMENTS_LOOP(T)                                                          \
    for (Py_ssize_t b = 0; b < n_blocks; b++) {                                  \
        const T *blk = x + b * block * d;                                        \
        Py_ssize_t rows = (b + 1) * block <= n ? block : n - b * block;          \
        double *s1 = out + b * 4 * d, *s2 = s1 + d, *lo = s2 + d, *hi = lo + d; \
        for (Py_ssize_t j = 0; j < d; j++) {                                     \
            s1[j] = 0.0; s2[j] = 0.0; lo[j] = blk[j]; hi[j] = blk[j];            \
        }                                                                        \
        Py_ssize_t i = 1;                                                        \
        for (; i + 3 < rows; i += 4) { /* 4 rows per update of the sums */      \
            const T *r0 = blk + i * d, *r1 = r0 + d, *r2 = r1 + d, *r3 = r2 + d; \
            for (Py_ssize_t j = 0; j < d; j++) {                                 \
                double s = (double)blk[j];                                       \
                double x0 = (double)r0[j], x1 = (double)r1[j];                   \
                double x2 = (double)r2[j], x3 = (double)r3[j];                   \
                double c0 = x0 - s, c1 = x1 - s, c2 = x2 - s, c3 = x3 - s;       \
                s1[j] += (c0 + c1) + (c2 + c3);                                  \
                s2[j] += (c0 * c0 + c1 * c1) + (c2 * c2 + c3 * c3);              \
                double a = x0 < x1 ? x0 : x1, b = x2 < x3 ? x2 : x3;             \
                double m = a < b ? a : b;                                        \
                lo[j] = m < lo[j] ? m : lo[j];                                   \
                a = x0 > x1 ? x0 : x1; b = x2 > x3 ? x2 : x3;                    \
                m = a > b ? a : b;                                               \
                hi[j] = m > hi[j] ? m : hi[j];                                   \
            }                                                                    \
        }                                                                        \
        for (; i < rows; i++) {                                                  \
            const T *row = blk + i * d;                                          \
            for (Py_ssize_t j = 0; j < d; j++) {                                 \
                double x = (double)row[j];                                       \
                double c = x - (double)blk[j];                                   \
                s1[j] += c;                                                      \
                s2[j] += c * c;                                                  \
                lo[j] = x < lo[j] ? x : lo[j];                                   \
                hi[j] = x > hi[j] ? x : hi[j];                                   \
            }                                                                    \
        }                                                                        \
        for (Py_ssize_t j = 0; j < d; j++) { /* NaN/inf in the shift row */     \
            double x0 = (double)blk[j];                                          \
            if (!isfinite(x0)) s1[j] = x0 - x0;                                  \
        }                                                                        \
    }

#define MOMENTS_KERNEL(NAME, T)                                                  \
    WIDEST_SIMD static void NAME(const T *x, Py_ssize_t n, Py_ssize_t d,         \
                                 Py_ssize_t block, double *out)                  \
    {                                                                            \
        Py_ssize_t n_blocks = (n + block - 1) / block;                           \
        MOMENTS_LOOP(T)                                                          \
    }
MOMENTS_KERNEL(moments_f64, double)
MOMENTS_KERNEL(moments_f32, float)

static PyObject *
block_moments(PyObject *self, PyObject *args)
{
    PyObject *xo, *oo;
    Py_ssize_t block, n, d;
    int is_f32;
    Py_buffer xv, ov;
    if (!PyArg_ParseTuple(args, "OOn", &xo, &oo, &block))
        return NULL;
    if (block < 1) {
        PyErr_SetString(PyExc_ValueError, "block_rows must be >= 1");
        return NULL;
    }
    if (get_matrix(xo, &xv, &n, &d, &is_f32) < 0)
        return NULL;
    Py_ssize_t n_blocks = (n + block - 1) / block;
    if (get_vector(oo, &ov, 1, 'd', 8, n_blocks * 4 * d) < 0) {
        PyBuffer_Release(&xv);
        return NULL;
    }
    double *out = (double *)ov.buf;
    Py_BEGIN_ALLOW_THREADS
    if (is_f32)
        moments_f32((const float *)xv.buf, n, d, block, out);
    else
        moments_f64((const double *)xv.buf, n, d, block, out);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&ov);
    PyBuffer_Release(&xv);
    Py_RETURN_NONE;
}

#define GROUP_LOOP(T)                                                            \
    for (Py_ssize_t i = 0; i < n; i++) {                                         \
        const T *row = x + i * d;                                                \
        double *acc = out + rows[i] * d;                                         \
        double w = weights[i];                                                   \
        for (Py_ssize_t j = 0; j < d; j++) {                                     \
            double x = (double)row[j];                                           \
            acc[j] += w * x;                                                     \
            colmin[j] = x < colmin[j] ? x : colmin[j];                           \
        }                                                                        \
    }

#define GROUP_KERNEL(NAME, T)                                                    \
    WIDEST_SIMD static void NAME(const T *x, Py_ssize_t n, Py_ssize_t d,         \
                                 const int64_t *rows, const double *weights,     \
                                 double *out, double *colmin)                    \
    {                                                                            \
        GROUP_LOOP(T)                                                            \
    }
GROUP_KERNEL(group_f64, double)
GROUP_KERNEL(group_f32, float)

static PyObject *
group_sums(PyObject *self, PyObject *args)
{
    PyObject *xo, *ro, *wo, *oo;
    Py_ssize_t n, d;
    int is_f32, bad_row = 0;
    double *colmin = NULL;
    Py_buffer xv, rv, wv, ov;
    double lowest = INFINITY;
    if (!PyArg_ParseTuple(args, "OOOO", &xo, &ro, &wo, &oo))
        return NULL;
    if (get_matrix(xo, &xv, &n, &d, &is_f32) < 0)
        return NULL;
    if (get_vector(ro, &rv, 0, 'l', 8, n) < 0 && (PyErr_Clear(), get_vector(ro, &rv, 0, 'q', 8, n) < 0)) {
        PyBuffer_Release(&xv);
        return NULL;
    }
    if (get_vector(wo, &wv, 0, 'd', 8, n) < 0) {
        PyBuffer_Release(&rv);
        PyBuffer_Release(&xv);
        return NULL;
    }
    if (PyObject_GetBuffer(oo, &ov, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&wv);
        PyBuffer_Release(&rv);
        PyBuffer_Release(&xv);
        return NULL;
    }
    Py_ssize_t n_groups = d ? ov.len / (8 * d) : 0;
    const int64_t *rows = (const int64_t *)rv.buf;
    const double *weights = (const double *)wv.buf;
    double *out = (double *)ov.buf;
    if (ov.format == NULL || ov.format[0] != 'd' || ov.itemsize != 8 ||
        (d && ov.len % (8 * d) != 0))
        bad_row = -1;
    for (Py_ssize_t i = 0; i < n && !bad_row; i++)
        if (rows[i] < 0 || rows[i] >= n_groups)
            bad_row = 1;
    if (!bad_row && d > 0) {
        colmin = PyMem_Malloc(d * sizeof(double));
        if (colmin == NULL)
            bad_row = -2;
        else
            for (Py_ssize_t j = 0; j < d; j++)
                colmin[j] = INFINITY;
    }
    if (!bad_row && d > 0) {
        Py_BEGIN_ALLOW_THREADS
        if (is_f32)
            group_f32((const float *)xv.buf, n, d, rows, weights, out, colmin);
        else
            group_f64((const double *)xv.buf, n, d, rows, weights, out, colmin);
        Py_END_ALLOW_THREADS
        for (Py_ssize_t j = 0; j < d; j++)
            lowest = colmin[j] < lowest ? colmin[j] : lowest;
    }
    PyMem_Free(colmin);
    PyBuffer_Release(&ov);
    PyBuffer_Release(&wv);
    PyBuffer_Release(&rv);
    PyBuffer_Release(&xv);
    if (bad_row == -2)
        return PyErr_NoMemory();
    if (bad_row) {
        PyErr_SetString(bad_row < 0 ? PyExc_TypeError : PyExc_ValueError,
                        bad_row < 0 ? "out must be a float64 array of shape (n_groups, d)"
                                    : "group index out of range");
        return NULL;
    }
    return PyFloat_FromDouble(lowest);
}

/* ---- radius candidates: tiled expansion ||x||^2 + ||y||^2 - 2 x.y ---- */

typedef double v8d __attribute__((vector_size(64)));
typedef long long v8l __attribute__((vector_size(64)));

/* The comparisons of whole vectors need AVX-512DQ (x86-64-v4) to stay in vector registers. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define WIDEST_SIMD_V4 __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WIDEST_SIMD_V4
#endif

#define GROUP_ROWS 32 /* query rows per group (one bounding box) */
#define TILE_COLS 64  /* block rows per packed tile (one bounding box, d x 64 in L1) */

typedef struct {
    int64_t *row, *col;
    uint8_t *flag;
    Py_ssize_t len, cap;
} pairs_t;

static int
pairs_push(pairs_t *p, int64_t i, int64_t j, uint8_t flag)
{
    if (p->len == p->cap) {
        Py_ssize_t cap = p->cap ? 2 * p->cap : 1 << 16;
        int64_t *row = realloc(p->row, cap * sizeof(int64_t));
        if (row) p->row = row;
        int64_t *col = realloc(p->col, cap * sizeof(int64_t));
        if (col) p->col = col;
        uint8_t *flag = realloc(p->flag, cap);
        if (flag) p->flag = flag;
        if (!row || !col || !flag)
            return -1;
        p->cap = cap;
    }
    p->row[p->len] = i;
    p->col[p->len] = j;
    p->flag[p->len++] = flag;
    return 0;
}

/* Whether any lane of a or b is negative (sign bits ORed, then halved three times). */
static inline __attribute__((always_inline)) int
any_negative(v8d a, v8d b)
{
    v8l o = (v8l)a | (v8l)b;
    o |= __builtin_shufflevector(o, o, 4, 5, 6, 7, 0, 1, 2, 3);
    o |= __builtin_shufflevector(o, o, 2, 3, 0, 1, 6, 7, 4, 5);
    o |= __builtin_shufflevector(o, o, 1, 0, 3, 2, 5, 4, 7, 6);
    return o[0] < 0;
}

/* Push the candidates of one query row among 16 block rows: d = v' - r2 where
 * v' = (1 - tau) s + acc, acc = -2 x.y, s = |x|^2 + |y|^2. Flag 1: within the
 * margin of r2 (v + tau s > r2, decided by the caller), 0: surely within. */
static int
push_row(pairs_t *out, Py_ssize_t i, Py_ssize_t c0, Py_ssize_t jj, const v8d *patch,
         double xs, const double *yn_t, double r2, double tau)
{
    double dl[16], al[16]; /* patch: d for 16 block rows, then acc */
    memcpy(dl, patch, 128);
    memcpy(al, patch + 2, 128);
    for (int l = 0; l < 16; l++) {
        if (!(dl[l] < 0.0 || signbit(dl[l])))
            continue;
        double sum = xs + yn_t[jj + l];
        if (pairs_push(out, i, c0 + jj + l, (sum + al[l]) + tau * sum > r2) < 0)
            return -1;
    }
    return 0;
}

/* Query rows i_first..i_first+nq of X (4 at a time) against one packed tile:
 * yt holds -2 y (d x TILE_COLS, block rows c0.., so the accumulated dot is
 * exactly -2 x.y), yn_t the norms (+inf in the padding). Returns -1 when out
 * of memory. */
WIDEST_SIMD_V4 static int
radius_tile(const double *X, const double *xn, Py_ssize_t i_first, Py_ssize_t nq, Py_ssize_t d,
            const double *yt, const double *yn_t, Py_ssize_t c0, double r2, double tau,
            pairs_t *out)
{
    const double shrink = 1.0 - tau;
    for (Py_ssize_t i0 = i_first; i0 < i_first + nq; i0 += 4) {
        const double *x0, *x1, *x2, *x3;
        double xs[4];
        for (int r = 0; r < 4; r++)
            xs[r] = i0 + r < i_first + nq ? xn[i0 + r] : INFINITY; /* padding: never */
        x0 = X + i0 * d;
        x1 = i0 + 1 < i_first + nq ? x0 + d : x0;
        x2 = i0 + 2 < i_first + nq ? x0 + 2 * d : x0;
        x3 = i0 + 3 < i_first + nq ? x0 + 3 * d : x0;
        for (Py_ssize_t jj = 0; jj < TILE_COLS; jj += 16) {
            v8d a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0};
            v8d a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
            for (Py_ssize_t k = 0; k < d; k++) {
                v8d y0, y1;
                memcpy(&y0, yt + k * TILE_COLS + jj, sizeof(v8d));
                memcpy(&y1, yt + k * TILE_COLS + jj + 8, sizeof(v8d));
                a00 += x0[k] * y0; a01 += x0[k] * y1;
                a10 += x1[k] * y0; a11 += x1[k] * y1;
                a20 += x2[k] * y0; a21 += x2[k] * y1;
                a30 += x3[k] * y0; a31 += x3[k] * y1;
            }
            v8d n0, n1;
            memcpy(&n0, yn_t + jj, sizeof(v8d));
            memcpy(&n1, yn_t + jj + 8, sizeof(v8d));
            v8d d00 = (n0 + xs[0]) * shrink + a00 - r2, d01 = (n1 + xs[0]) * shrink + a01 - r2;
            v8d d10 = (n0 + xs[1]) * shrink + a10 - r2, d11 = (n1 + xs[1]) * shrink + a11 - r2;
            v8d d20 = (n0 + xs[2]) * shrink + a20 - r2, d21 = (n1 + xs[2]) * shrink + a21 - r2;
            v8d d30 = (n0 + xs[3]) * shrink + a30 - r2, d31 = (n1 + xs[3]) * shrink + a31 - r2;
            v8l all = ((v8l)d00 | (v8l)d01) | ((v8l)d10 | (v8l)d11) |
                      ((v8l)d20 | (v8l)d21) | ((v8l)d30 | (v8l)d31);
            if (!any_negative((v8d)all, (v8d)all))
                continue;
            /* rare: push this 4 x 16 patch's candidates, row by row */
#define PUSH(R, D0, D1, A0, A1)                                                         \
    if (any_negative(D0, D1)) {                                                      \
        v8d patch[4] = {D0, D1, A0, A1};                                             \
        if (push_row(out, i0 + R, c0, jj, patch, xs[R], yn_t, r2, tau) < 0)          \
            return -1;                                                               \
    }
            PUSH(0, d00, d01, a00, a01)
            PUSH(1, d10, d11, a10, a11)
            PUSH(2, d20, d21, a20, a21)
            PUSH(3, d30, d31, a30, a31)
#undef PUSH
        }
    }
    return 0;
}

/* Bounding box (lo, hi: d each) and largest squared norm of rows [0, n). */
static double
bounding_box(const double *X, const double *norms, Py_ssize_t n, Py_ssize_t d, double *lo,
             double *hi)
{
    double top = 0.0;
    for (Py_ssize_t k = 0; k < d; k++) {
        lo[k] = INFINITY;
        hi[k] = -INFINITY;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        for (Py_ssize_t k = 0; k < d; k++) {
            double x = X[i * d + k];
            lo[k] = x < lo[k] ? x : lo[k];
            hi[k] = x > hi[k] ? x : hi[k];
        }
        top = norms[i] > top ? norms[i] : top;
    }
    return top;
}

/* near[g]: whether group g's box (qlo/qhi column-major: [k * n_groups + g],
 * largest norm qtop[g]) can hold a candidate with the tile's box (ylo, yhi,
 * ytop): the squared gap between the boxes (within a relative 1e-12 for any
 * d below ~1e3) is at most r2 plus twice the candidates' margin. Vectorised
 * over the groups. */
WIDEST_SIMD static void
boxes_near(const double *qlo, const double *qhi, const double *qtop, Py_ssize_t n_groups,
           const double *ylo, const double *yhi, double ytop, Py_ssize_t d, double r2,
           double tau, double *gap2, char *near)
{
    for (Py_ssize_t g = 0; g < n_groups; g++)
        gap2[g] = 0.0;
    for (Py_ssize_t k = 0; k < d; k++) {
        const double *lo = qlo + k * n_groups, *hi = qhi + k * n_groups;
        for (Py_ssize_t g = 0; g < n_groups; g++) {
            double a = lo[g] - yhi[k], b = ylo[k] - hi[g];
            double gap = a > b ? a : b;
            gap = gap > 0.0 ? gap : 0.0;
            gap2[g] += gap * gap;
        }
    }
    for (Py_ssize_t g = 0; g < n_groups; g++)
        near[g] = gap2[g] * (1.0 - 1e-12) <= r2 + 2.0 * tau * (qtop[g] + ytop);
}

/* Stable counting sort of the pairs by key (keys in [0, n_keys)). */
static int
sort_pairs(pairs_t *p, const int64_t *key, Py_ssize_t n_keys, pairs_t *into)
{
    int64_t *start = calloc(n_keys + 1, sizeof(int64_t));
    if (!start)
        return -1;
    for (Py_ssize_t t = 0; t < p->len; t++)
        start[key[t] + 1]++;
    for (Py_ssize_t k = 0; k < n_keys; k++)
        start[k + 1] += start[k];
    for (Py_ssize_t t = 0; t < p->len; t++) {
        int64_t pos = start[key[t]]++;
        into->row[pos] = p->row[t];
        into->col[pos] = p->col[t];
        into->flag[pos] = p->flag[t];
    }
    into->len = p->len;
    free(start);
    return 0;
}

/* Insertion sort of each row's block rows (rows hold a few dozen pairs). */
static void
sort_within_rows(pairs_t *p)
{
    Py_ssize_t first = 0;
    while (first < p->len) {
        Py_ssize_t last = first + 1;
        while (last < p->len && p->row[last] == p->row[first])
            last++;
        for (Py_ssize_t t = first + 1; t < last; t++) {
            int64_t col = p->col[t];
            uint8_t flag = p->flag[t];
            Py_ssize_t u = t;
            for (; u > first && p->col[u - 1] > col; u--) {
                p->col[u] = p->col[u - 1];
                p->flag[u] = p->flag[u - 1];
            }
            p->col[u] = col;
            p->flag[u] = flag;
        }
        first = last;
    }
}

/* Every (query group, block tile) whose boxes are not apart; then the pairs
 * renamed by the permutations and sorted by (query row, block row). */
static int
radius_all(const double *X, const double *xn, Py_ssize_t nq, const double *Y,
           const double *yn, Py_ssize_t ny, Py_ssize_t d, double r2, double tau,
           const int64_t *qperm, const int64_t *yperm, pairs_t *out)
{
    Py_ssize_t n_groups = (nq + GROUP_ROWS - 1) / GROUP_ROWS;
    double *yt = malloc((d * TILE_COLS + TILE_COLS + 2 * d) * sizeof(double));
    /* the groups' boxes, column-major, their top norms, and per tile the gaps */
    double *qbox = malloc((n_groups * (2 * d + 2) + 1) * sizeof(double));
    char *near = malloc(n_groups + 1);
    double *row_lo = malloc((2 * d + 1) * sizeof(double));
    pairs_t tmp = {0};
    int status = (yt && qbox && near && row_lo) ? 0 : -1;
    double *yn_t = yt + d * TILE_COLS, *ylo = yn_t + TILE_COLS, *yhi = ylo + d;
    double *qlo = qbox, *qhi = qlo + n_groups * d, *qtop = qhi + n_groups * d;
    double *gap2 = qtop + n_groups;
    for (Py_ssize_t g = 0; g < n_groups && !status; g++) {
        Py_ssize_t first = g * GROUP_ROWS, rows = nq - first < GROUP_ROWS ? nq - first : GROUP_ROWS;
        qtop[g] = bounding_box(X + first * d, xn + first, rows, d, row_lo, row_lo + d);
        for (Py_ssize_t k = 0; k < d; k++) {
            qlo[k * n_groups + g] = row_lo[k];
            qhi[k * n_groups + g] = row_lo[d + k];
        }
    }
    for (Py_ssize_t c0 = 0; c0 < ny && !status; c0 += TILE_COLS) {
        Py_ssize_t ncols = ny - c0 < TILE_COLS ? ny - c0 : TILE_COLS;
        double yn_top = bounding_box(Y + c0 * d, yn + c0, ncols, d, ylo, yhi);
        for (Py_ssize_t c = 0; c < TILE_COLS; c++) {
            int real = c < ncols;
            for (Py_ssize_t k = 0; k < d; k++)
                yt[k * TILE_COLS + c] = real ? -2.0 * Y[(c0 + c) * d + k] : 0.0;
            yn_t[c] = real ? yn[c0 + c] : INFINITY;
        }
        boxes_near(qlo, qhi, qtop, n_groups, ylo, yhi, yn_top, d, r2, tau, gap2, near);
        for (Py_ssize_t g = 0; g < n_groups && !status; g++) {
            if (!near[g])
                continue;
            Py_ssize_t first = g * GROUP_ROWS;
            Py_ssize_t rows = nq - first < GROUP_ROWS ? nq - first : GROUP_ROWS;
            status = radius_tile(X, xn, first, rows, d, yt, yn_t, c0, r2, tau, out);
        }
    }
    free(near);
    free(row_lo);
    free(yt);
    free(qbox);
    if (status || !out->len)
        return status;
    /* original row numbers, sorted by query row, then each row's block rows */
    for (Py_ssize_t t = 0; t < out->len; t++) {
        out->row[t] = qperm[out->row[t]];
        out->col[t] = yperm[out->col[t]];
    }
    tmp.row = malloc(out->len * sizeof(int64_t));
    tmp.col = malloc(out->len * sizeof(int64_t));
    tmp.flag = malloc(out->len);
    if (!tmp.row || !tmp.col || !tmp.flag || sort_pairs(out, out->row, nq, &tmp) < 0)
        status = -1;
    else {
        pairs_t swap = *out;
        out->row = tmp.row, out->col = tmp.col, out->flag = tmp.flag;
        tmp = swap;
        sort_within_rows(out);
    }
    free(tmp.row);
    free(tmp.col);
    free(tmp.flag);
    return status;
}

static PyObject *
radius_candidates(PyObject *self, PyObject *args)
{
    PyObject *xo, *yo, *xno, *yno, *qpo, *ypo, *result = NULL;
    double r2, tau;
    Py_ssize_t nq, ny, d, dy;
    int f32x, f32y, status;
    Py_buffer xv, yv, xnv, ynv, qpv, ypv;
    pairs_t p = {0};
    if (!PyArg_ParseTuple(args, "OOOOddOO", &xo, &yo, &xno, &yno, &r2, &tau, &qpo, &ypo))
        return NULL;
    if (get_matrix(xo, &xv, &nq, &d, &f32x) < 0)
        return NULL;
    if (get_matrix(yo, &yv, &ny, &dy, &f32y) < 0) {
        PyBuffer_Release(&xv);
        return NULL;
    }
    if (f32x || f32y || d != dy) {
        PyErr_SetString(PyExc_TypeError, "X and Y must be float64 with the same columns");
        goto fail2;
    }
    if (get_vector(xno, &xnv, 0, 'd', 8, nq) < 0)
        goto fail2;
    if (get_vector(yno, &ynv, 0, 'd', 8, ny) < 0)
        goto fail3;
    if (get_vector(qpo, &qpv, 0, 'l', 8, nq) < 0 &&
        (PyErr_Clear(), get_vector(qpo, &qpv, 0, 'q', 8, nq) < 0))
        goto fail4;
    if (get_vector(ypo, &ypv, 0, 'l', 8, ny) < 0 &&
        (PyErr_Clear(), get_vector(ypo, &ypv, 0, 'q', 8, ny) < 0))
        goto fail5;
    /* the permutations must be permutations: out-of-range rows would corrupt memory */
    int bad = 0;
    for (Py_ssize_t i = 0; i < nq; i++)
        bad |= ((int64_t *)qpv.buf)[i] < 0 || ((int64_t *)qpv.buf)[i] >= nq;
    for (Py_ssize_t j = 0; j < ny; j++)
        bad |= ((int64_t *)ypv.buf)[j] < 0 || ((int64_t *)ypv.buf)[j] >= ny;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "row orders out of range");
        goto fail6;
    }
    Py_BEGIN_ALLOW_THREADS
    status = radius_all(xv.buf, xnv.buf, nq, yv.buf, ynv.buf, ny, d, r2, tau, qpv.buf, ypv.buf,
                        &p);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
        goto fail6;
    }
    PyObject *counts = PyByteArray_FromStringAndSize(NULL, nq * 8);
    PyObject *cols = PyByteArray_FromStringAndSize(NULL, p.len * 8);
    PyObject *vals = PyByteArray_FromStringAndSize(NULL, p.len);
    if (counts && cols && vals) {
        int64_t *cnt = (int64_t *)PyByteArray_AS_STRING(counts);
        memset(cnt, 0, nq * 8);
        for (Py_ssize_t t = 0; t < p.len; t++)
            cnt[p.row[t]]++;
        if (p.len) {
            memcpy(PyByteArray_AS_STRING(cols), p.col, p.len * 8);
            memcpy(PyByteArray_AS_STRING(vals), p.flag, p.len);
        }
        result = PyTuple_Pack(3, counts, cols, vals);
    }
    Py_XDECREF(counts);
    Py_XDECREF(cols);
    Py_XDECREF(vals);
fail6:
    PyBuffer_Release(&ypv);
fail5:
    PyBuffer_Release(&qpv);
fail4:
    PyBuffer_Release(&ynv);
fail3:
    PyBuffer_Release(&xnv);
fail2:
    PyBuffer_Release(&yv);
    PyBuffer_Release(&xv);
    free(p.row);
    free(p.col);
    free(p.flag);
    return result;
}

/* ---- k nearest candidates: the same register tiles, a sorted list per row ---- */

#define KNN_TILE 256 /* block rows per packed tile (d x 256 doubles, in L2) */

/* Insert (v, j) into the ascending list of m values (v below its last one). */
static inline void
knn_insert(double *val, int64_t *ind, Py_ssize_t m, double v, int64_t j)
{
    Py_ssize_t t = m - 1;
    for (; t > 0 && val[t - 1] > v; t--) {
        val[t] = val[t - 1];
        ind[t] = ind[t - 1];
    }
    val[t] = v;
    ind[t] = j;
}

static void
knn_push_row(double *val, int64_t *ind, Py_ssize_t m, Py_ssize_t c0, Py_ssize_t jj,
             const v8d *patch, double xs, const double *yn_t)
{
    double al[16];
    memcpy(al, patch, 128);
    for (int l = 0; l < 16; l++) {
        double v = (xs + yn_t[jj + l]) + al[l];
        if (v < val[m - 1])
            knn_insert(val, ind, m, v, c0 + jj + l);
    }
}

/* 8 query rows x 16 block rows per step: 16 accumulators, 2 block loads and 8
 * broadcasts per feature for 16 FMAs. */
WIDEST_SIMD_V4 static void
knn_tile(const double *X, const double *xn, Py_ssize_t nq, Py_ssize_t d, const double *yt,
         const double *yn_t, Py_ssize_t c0, Py_ssize_t m, double *vals, int64_t *inds)
{
    for (Py_ssize_t i0 = 0; i0 < nq; i0 += 8) {
        const double *x[8];
        double xs[8], thr[8];
        for (int r = 0; r < 8; r++) {
            int real = i0 + r < nq;
            x[r] = X + (real ? i0 + r : i0) * d;
            xs[r] = real ? xn[i0 + r] : INFINITY;
            thr[r] = real ? vals[(i0 + r) * m + m - 1] : -INFINITY; /* padding: never */
        }
        const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
        const double *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
        for (Py_ssize_t jj = 0; jj < KNN_TILE; jj += 16) {
            v8d a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0};
            v8d a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
            v8d a40 = {0}, a41 = {0}, a50 = {0}, a51 = {0};
            v8d a60 = {0}, a61 = {0}, a70 = {0}, a71 = {0};
            for (Py_ssize_t k = 0; k < d; k++) {
                v8d y0, y1;
                memcpy(&y0, yt + k * KNN_TILE + jj, sizeof(v8d));
                memcpy(&y1, yt + k * KNN_TILE + jj + 8, sizeof(v8d));
                a00 += x0[k] * y0; a01 += x0[k] * y1;
                a10 += x1[k] * y0; a11 += x1[k] * y1;
                a20 += x2[k] * y0; a21 += x2[k] * y1;
                a30 += x3[k] * y0; a31 += x3[k] * y1;
                a40 += x4[k] * y0; a41 += x4[k] * y1;
                a50 += x5[k] * y0; a51 += x5[k] * y1;
                a60 += x6[k] * y0; a61 += x6[k] * y1;
                a70 += x7[k] * y0; a71 += x7[k] * y1;
            }
            v8d n0, n1;
            memcpy(&n0, yn_t + jj, sizeof(v8d));
            memcpy(&n1, yn_t + jj + 8, sizeof(v8d));
            /* below the row's m-th value: (xs + yn) + acc - thr < 0 */
#define KNN_D(R) \
    v8d d##R##0 = (n0 + xs[R]) + a##R##0 - thr[R], d##R##1 = (n1 + xs[R]) + a##R##1 - thr[R];
            KNN_D(0) KNN_D(1) KNN_D(2) KNN_D(3) KNN_D(4) KNN_D(5) KNN_D(6) KNN_D(7)
#undef KNN_D
            v8l all = ((v8l)d00 | (v8l)d01) | ((v8l)d10 | (v8l)d11) |
                      ((v8l)d20 | (v8l)d21) | ((v8l)d30 | (v8l)d31) |
                      ((v8l)d40 | (v8l)d41) | ((v8l)d50 | (v8l)d51) |
                      ((v8l)d60 | (v8l)d61) | ((v8l)d70 | (v8l)d71);
            if (!any_negative((v8d)all, (v8d)all))
                continue;
#define KNN_PUSH(R)                                                                      \
    if (any_negative(d##R##0, d##R##1)) {                                             \
        v8d patch[2] = {a##R##0, a##R##1};                                            \
        double *val = vals + (i0 + R) * m;                                            \
        knn_push_row(val, inds + (i0 + R) * m, m, c0, jj, patch, xs[R], yn_t);        \
        thr[R] = val[m - 1];                                                          \
    }
            KNN_PUSH(0) KNN_PUSH(1) KNN_PUSH(2) KNN_PUSH(3)
            KNN_PUSH(4) KNN_PUSH(5) KNN_PUSH(6) KNN_PUSH(7)
#undef KNN_PUSH
        }
    }
}

static int
knn_all(const double *X, const double *xn, Py_ssize_t nq, const double *Y, const double *yn,
        Py_ssize_t ny, Py_ssize_t d, Py_ssize_t m, double *vals, int64_t *inds)
{
    double *yt = malloc((d * KNN_TILE + KNN_TILE) * sizeof(double));
    if (!yt)
        return -1;
    double *yn_t = yt + d * KNN_TILE;
    for (Py_ssize_t t = 0; t < nq * m; t++) {
        vals[t] = INFINITY;
        inds[t] = -1;
    }
    for (Py_ssize_t c0 = 0; c0 < ny; c0 += KNN_TILE) {
        Py_ssize_t ncols = ny - c0 < KNN_TILE ? ny - c0 : KNN_TILE;
        for (Py_ssize_t c = 0; c < KNN_TILE; c++) {
            int real = c < ncols;
            for (Py_ssize_t k = 0; k < d; k++)
                yt[k * KNN_TILE + c] = real ? -2.0 * Y[(c0 + c) * d + k] : 0.0;
            yn_t[c] = real ? yn[c0 + c] : INFINITY;
        }
        knn_tile(X, xn, nq, d, yt, yn_t, c0, m, vals, inds);
    }
    free(yt);
    return 0;
}

static PyObject *
knn_candidates(PyObject *self, PyObject *args)
{
    PyObject *xo, *yo, *xno, *yno, *vo, *io;
    Py_ssize_t nq, ny, d, dy, m;
    int f32x, f32y, status = -2;
    Py_buffer xv, yv, xnv, ynv, vv, iv;
    if (!PyArg_ParseTuple(args, "OOOOOOn", &xo, &yo, &xno, &yno, &vo, &io, &m))
        return NULL;
    if (get_matrix(xo, &xv, &nq, &d, &f32x) < 0)
        return NULL;
    if (get_matrix(yo, &yv, &ny, &dy, &f32y) < 0) {
        PyBuffer_Release(&xv);
        return NULL;
    }
    if (f32x || f32y || d != dy || m < 1 || m > ny) {
        PyErr_SetString(PyExc_ValueError, "X, Y: float64 with the same columns; 1 <= m <= len(Y)");
        goto fail2;
    }
    if (get_vector(xno, &xnv, 0, 'd', 8, nq) < 0)
        goto fail2;
    if (get_vector(yno, &ynv, 0, 'd', 8, ny) < 0)
        goto fail3;
    if (get_vector(vo, &vv, 1, 'd', 8, nq * m) < 0)
        goto fail4;
    if (get_vector(io, &iv, 1, 'l', 8, nq * m) < 0 &&
        (PyErr_Clear(), get_vector(io, &iv, 1, 'q', 8, nq * m) < 0))
        goto fail5;
    Py_BEGIN_ALLOW_THREADS
    status = knn_all(xv.buf, xnv.buf, nq, yv.buf, ynv.buf, ny, d, m, vv.buf, iv.buf);
    Py_END_ALLOW_THREADS
    if (status < 0)
        PyErr_NoMemory();
    PyBuffer_Release(&iv);
fail5:
    PyBuffer_Release(&vv);
fail4:
    PyBuffer_Release(&ynv);
fail3:
    PyBuffer_Release(&xnv);
fail2:
    PyBuffer_Release(&yv);
    PyBuffer_Release(&xv);
    if (status < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"block_moments", block_moments, METH_VARARGS,
     "Per-block shifted sums, sums of squares, minima and maxima (one pass)."},
    {"group_sums", group_sums, METH_VARARGS,
     "Weighted per-group row sums and the minimum element (one pass)."},
    {"radius_candidates", radius_candidates, METH_VARARGS,
     "Pairs of rows possibly within a radius (tiled GEMM expansion), by query row."},
    {"knn_candidates", knn_candidates, METH_VARARGS,
     "The m smallest expanded squared distances of each query row (tiled)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ckernels", "Fused one-pass kernels (see _kernels.py).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__ckernels(void)
{
    return PyModule_Create(&module);
}
