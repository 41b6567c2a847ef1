/* Fused one-pass kernels for the memory-bound fits (optional C extension).
 *
 * The NumPy versions in skspmd/_kernels.py read each cached block several
 * times (one NumPy call per statistic); these read every element once, so
 * the fits run near the memory bandwidth. The module takes plain buffers
 * (no NumPy headers are needed to build it) and is optional: when it did not
 * build, skspmd/_kernels.py uses the NumPy versions, which give the same
 * results to round-off and are tested against these.
 *
 * What made them fast (measured on a 2-core Zen 5, in-process A/B against
 * the previous versions): the moments of rows up to 320 columns read X in
 * address order with a software prefetch 8 KB ahead, their running
 * statistics in L1 (ROW_MOMENTS below): at the read rate of a BLAS dgemv
 * over the same rows (1.0-1.1x of its time; a NumPy column sum takes ~1.2x).
 * Wider rows keep a column-chunk kernel with the running sums in vector
 * registers, built for AVX2 at most: its 256-bit clone measured 6-25% faster
 * than an AVX-512 one here, though a 32-column chunk then keeps part of its
 * sums on the stack (0.8-0.9 of a dgemv's read rate). The group sums keep
 * the minimum in registers and prefetch X 64 KB ahead: ~0.55 -> ~0.95 of a
 * NumPy column sum. Check the generated code with objdump -d (the row
 * kernel's and the group sums' inner loops must use zmm registers with no
 * stack traffic in their AVX-512 clones).
 *
 * block_moments(X, out, block_rows)
 *     X: float64 or float32 array (n, d), C-contiguous, or with contiguous
 *     rows evenly spaced (a row-strided view such as X[:, :-1]) when d >= 32.
 *     out: float64 array (n_blocks, 4, d), n_blocks = ceil(n / block_rows). For each block of
 *     block_rows rows, with s = the block's first row: out[b, 0] = sum(x - s),
 *     out[b, 1] = sum((x - s)**2), out[b, 2] = min, out[b, 3] = max.
 *     Shifting by a row of the block keeps the centred sum of squares exact
 *     (no cancellation) unless that row lies far from the block's mean,
 *     which the caller checks. NaN or inf anywhere makes out[b, 0] non-finite.
 *
 * group_sums(X, rows, weights, out)
 *     X: C-contiguous float64 or float32 (n, d); rows: int64 (n,) group of
 *     each row (0 <= rows[i] < n_groups); weights: float64 (n,) or None
 *     (every weight 1); out: float64
 *     (n_groups, d), accumulated: out[rows[i]] += weights[i] * X[i]. Returns
 *     the minimum element of X (NaN is skipped: it reaches ``out`` instead,
 *     since every row is multiplied in, even with weight 0), for the
 *     non-negativity check of naive Bayes.
 *
 * radius_candidates, knn_candidates: the neighbour searches' filters, in
 * _cneighbors.c and _cknn.c.
 */
#include "_ckernels.h"

/* out[b] of one block from its running statistics: the g lanes of each column
 * (lane l holds column l % d) are folded together; acc holds the four
 * statistics sp doubles apart. */
static void
fold_lanes(const double *shift, const double *acc, Py_ssize_t sp, Py_ssize_t d, Py_ssize_t dv,
           double *o)
{
    for (Py_ssize_t j = 0; j < d; j++) {
        double s1 = acc[j], s2 = acc[sp + j], lo = acc[2 * sp + j], hi = acc[3 * sp + j];
        for (Py_ssize_t l = j + d; l < dv; l += d) {
            s1 += acc[l];
            s2 += acc[sp + l];
            lo = acc[2 * sp + l] < lo ? acc[2 * sp + l] : lo;
            hi = acc[3 * sp + l] > hi ? acc[3 * sp + l] : hi;
        }
        if (!isfinite(shift[j])) /* NaN/inf in the shift row */
            s1 = shift[j] - shift[j];
        o[j] = s1;
        o[d + j] = s2;
        o[2 * d + j] = lo;
        o[3 * d + j] = hi;
    }
}

/* One block's statistics start from its shift row s (repeated over the g
 * lanes of a virtual row of dv elements): sums 0, min = max = s; acc holds
 * the four statistics sp doubles apart. */
#define START_BLOCK(NAME, T)                                                           \
    static inline __attribute__((always_inline)) void NAME(                            \
        const T *blk, Py_ssize_t d, Py_ssize_t dv, double *s, double *acc, Py_ssize_t sp) \
    {                                                                                  \
        for (Py_ssize_t j = 0; j < dv; j++) {                                          \
            s[j] = (double)blk[j % d];                                                 \
            acc[j] = 0.0;                                                              \
            acc[sp + j] = 0.0;                                                         \
            acc[2 * sp + j] = s[j];                                                    \
            acc[3 * sp + j] = s[j];                                                    \
        }                                                                              \
    }

/* One row of w elements folded into the running statistics (separate restrict
 * pointers, so GCC vectorizes the loop without alias checks). */
#define FOLD_ROW(NAME, T)                                                              \
    static inline __attribute__((always_inline)) void NAME(                            \
        const T *restrict r, Py_ssize_t w, const double *restrict s,                   \
        double *restrict s1, double *restrict s2, double *restrict lo,                 \
        double *restrict hi)                                                           \
    {                                                                                  \
        for (Py_ssize_t j = 0; j < w; j++) {                                           \
            double v = (double)r[j], c = v - s[j];                                     \
            s1[j] += c;                                                                \
            s2[j] += c * c;                                                            \
            lo[j] = v < lo[j] ? v : lo[j];                                             \
            hi[j] = v > hi[j] ? v : hi[j];                                             \
        }                                                                              \
    }

/* The moments of rows up to ROW_DV_MAX elements wide (the common case): rows
 * in address order, each folded into the four running statistics (5 virtual
 * rows of doubles, in L1), with X prefetched ROW_AHEAD bytes ahead of the
 * reads. Narrow C-ordered rows are read g side by side as virtual rows of
 * about ROW_VMIN elements (a multiple of 8 where that stays within
 * ROW_DV_MAX, so no vector is split). Measured here (Zen 5, 1,000,000 x 100
 * float64 per process, 2 processes at once, in-process A/B): 36.7 -> 26.3 ms
 * per process, against 25.7 for a BLAS dgemv over the same rows and 32.0
 * for a NumPy column sum; alone, 33.9 -> 23.5 ms (34 GB/s). Without the
 * prefetch the same loop reaches only the column-chunk kernel's rate; 4-16
 * KB ahead were within 5% of each other.
 * Wider rows keep the column-chunk kernel below: their running statistics
 * no longer fit in L1 beside the stream (500 columns: 58 vs 45 ms). */
#define ROW_AHEAD 8192
#define ROW_VMIN 128
#define ROW_DV_MIN 64
#define ROW_DV_MAX 320
/* The four statistics lie this many doubles apart: a whole number of cache
 * lines, plus one so they do not share cache sets (measured with 500
 * columns, before rows that wide went to the column-chunk kernel: 58 -> 50
 * ms; no difference measured at 100). */
#define ROW_PITCH(dv) (((dv) + 7) / 8 * 8 + 8)

#define ROW_MOMENTS(NAME, T, START, FOLD)                                              \
    WIDEST_SIMD static void NAME(const T *x, Py_ssize_t n, Py_ssize_t d, Py_ssize_t ld, \
                                 Py_ssize_t block, Py_ssize_t g, double *scratch,      \
                                 double *out)                                          \
    {                                                                                  \
        Py_ssize_t dv = g * d, pitch = g * ld, sp = ROW_PITCH(dv);                     \
        double *s = scratch, *acc = scratch + sp;                                      \
        double *s1 = acc, *s2 = acc + sp, *lo = acc + 2 * sp, *hi = acc + 3 * sp;      \
        Py_ssize_t bytes = dv * (Py_ssize_t)sizeof(T);                                 \
        Py_ssize_t ahead = (ROW_AHEAD + bytes - 1) / bytes;                            \
        /* prefetch addresses as integers, so none points past the end of X */        \
        uintptr_t end = (uintptr_t)(x + (n - 1) * ld + d);                             \
        uintptr_t ahead_bytes = (uintptr_t)(ahead * pitch * (Py_ssize_t)sizeof(T));    \
        for (Py_ssize_t b0 = 0; b0 < n; b0 += block) {                                 \
            Py_ssize_t rows = n - b0 < block ? n - b0 : block, nv = (rows - 1) / g;    \
            const T *blk = x + b0 * ld, *r = blk + ld;                                 \
            START(blk, d, dv, s, acc, sp);                                             \
            for (Py_ssize_t i = 0; i < nv; i++, r += pitch) {                          \
                uintptr_t pf = (uintptr_t)r + ahead_bytes;                             \
                if (pf + (uintptr_t)bytes <= end)                                      \
                    for (Py_ssize_t p = 0; p < bytes; p += 64)                         \
                        __builtin_prefetch((const char *)pf + p, 0, 3);                \
                FOLD(r, dv, s, s1, s2, lo, hi);                                        \
            }                                                                          \
            for (Py_ssize_t i = 1 + nv * g; i < rows; i++) /* rows left over: lane 0 */ \
                FOLD(blk + i * ld, d, s, s1, s2, lo, hi);                              \
            fold_lanes(s, acc, sp, d, dv, out + (b0 / block) * 4 * d);                 \
        }                                                                              \
    }

/* The moments of rows wider than ROW_DV_MAX (and of strided rows narrower
 * than ROW_DV_MIN) keep their running sums in registers. A block's rows are
 * visited as "virtual rows" of width dv = g * d (g consecutive rows side by
 * side, g = 1 once d >= 32, so narrow X still fills whole vectors), in runs
 * of at most SUB_BYTES of X (they stay in L2). For each run, every chunk of
 * 32, 16 or 8 columns (the last chunk overlaps the previous one when dv is
 * not a multiple of 8) loads its four statistics into registers (fixed-size
 * local arrays with constant trip counts: GCC keeps them in vector
 * registers), folds in every row of the run, and stores them back, so memory
 * sees one read of X and no read-modify-write per row. After the block, the
 * g lanes of each column are folded together. */
#define SUB_BYTES (128 * 1024)
/* While a run is read chunk by chunk (a strided pattern), the next run is
 * prefetched in address order, as many bytes per row as the chunk reads, so
 * DRAM sees one sequential stream (measured: a few % faster than leaving the
 * strided pattern to the hardware prefetchers; within the noise of this
 * shared machine for runs of 64-256 KB). */
#define PREFETCH_NEXT(pf, bytes)                                                       \
    for (int p = 0; p < (int)(bytes); p += 64)                                         \
        __builtin_prefetch((const void *)(pf + p), 0, 3);                              \
    pf += (bytes);
#define VROW_MIN 32

#define MOMENT_CHUNK(NAME, T, W, FOLD)                                                 \
    static inline __attribute__((always_inline)) uintptr_t NAME(                       \
        const T *restrict x, Py_ssize_t rows, Py_ssize_t stride,                       \
        const double *restrict shift, double *restrict acc, Py_ssize_t ld, int keep,   \
        uintptr_t pf)                                                                  \
    {                                                                                  \
        double s[W], s1[W], s2[W], lo[W], hi[W];                                       \
        for (int k = 0; k < W; k++) {                                                  \
            s[k] = shift[k];                                                           \
            s1[k] = acc[k];                                                            \
            s2[k] = acc[ld + k];                                                       \
            lo[k] = acc[2 * ld + k];                                                   \
            hi[k] = acc[3 * ld + k];                                                   \
        }                                                                              \
        for (Py_ssize_t i = 0; i < rows; i++) {                                        \
            const T *restrict r = x + i * stride;                                      \
            PREFETCH_NEXT(pf, W * sizeof(T))                                           \
            FOLD(r, W, s, s1, s2, lo, hi); /* constant W: the sums stay in registers */ \
        }                                                                              \
        for (int k = keep; k < W; k++) { /* lanes below keep: done by the chunk before */ \
            acc[k] = s1[k];                                                            \
            acc[ld + k] = s2[k];                                                       \
            acc[2 * ld + k] = lo[k];                                                   \
            acc[3 * ld + k] = hi[k];                                                   \
        }                                                                              \
        return pf;                                                                     \
    }

/* One run of virtual rows (pitch elements apart) through every column chunk (dv >= 8). */
#define MOMENT_RUN(NAME, T, C32, C16, C8)                                              \
    static inline __attribute__((always_inline)) void NAME(                            \
        const T *x, Py_ssize_t rows, Py_ssize_t dv, Py_ssize_t pitch,                  \
        const double *shift, double *acc)                                              \
    {                                                                                  \
        Py_ssize_t j = 0;                                                              \
        uintptr_t pf = (uintptr_t)x + (uintptr_t)(rows * pitch * (Py_ssize_t)sizeof(T)); \
        for (; j + 32 <= dv; j += 32)                                                  \
            pf = C32(x + j, rows, pitch, shift + j, acc + j, dv, 0, pf);               \
        if (j + 16 <= dv) {                                                            \
            pf = C16(x + j, rows, pitch, shift + j, acc + j, dv, 0, pf);               \
            j += 16;                                                                   \
        }                                                                              \
        if (j + 8 <= dv) {                                                             \
            pf = C8(x + j, rows, pitch, shift + j, acc + j, dv, 0, pf);                \
            j += 8;                                                                    \
        }                                                                              \
        if (j < dv)                                                                    \
            C8(x + dv - 8, rows, pitch, shift + dv - 8, acc + dv - 8, dv,              \
               (int)(j - (dv - 8)), pf);                                               \
    }

/* Block b: rows [b * block, ...), shift = its first row; out[b] = (s1, s2, lo, hi).
 * Rows are ld elements apart (ld == d unless g == 1). shift and acc are
 * scratch of dv and 4 * dv doubles. */
#define MOMENT_BLOCK(NAME, T, RUN, START, FOLD)                                        \
    static inline __attribute__((always_inline)) void NAME(                            \
        const T *blk, Py_ssize_t rows, Py_ssize_t d, Py_ssize_t ld, Py_ssize_t g,      \
        Py_ssize_t sub, double *shift, double *acc, double *o)                         \
    {                                                                                  \
        Py_ssize_t dv = g * d, nv = (rows - 1) / g;                                    \
        START(blk, d, dv, shift, acc, dv);                                             \
        for (Py_ssize_t i = 0; i < nv; i += sub)                                       \
            RUN(blk + ld + i * g * ld, nv - i < sub ? nv - i : sub, dv, g * ld, shift, acc); \
        for (Py_ssize_t i = 1 + nv * g; i < rows; i++) /* rows left over: lane 0 */    \
            FOLD(blk + i * ld, d, shift, acc, acc + dv, acc + 2 * dv, acc + 3 * dv);   \
        fold_lanes(shift, acc, dv, d, dv, o);                                          \
    }

#define MOMENTS_KERNEL(SUFFIX, T)                                                      \
    START_BLOCK(start_##SUFFIX, T)                                                     \
    FOLD_ROW(fold_row_##SUFFIX, T)                                                     \
    MOMENT_CHUNK(chunk32_##SUFFIX, T, 32, fold_row_##SUFFIX)                           \
    MOMENT_CHUNK(chunk16_##SUFFIX, T, 16, fold_row_##SUFFIX)                           \
    MOMENT_CHUNK(chunk8_##SUFFIX, T, 8, fold_row_##SUFFIX)                             \
    MOMENT_RUN(run_##SUFFIX, T, chunk32_##SUFFIX, chunk16_##SUFFIX, chunk8_##SUFFIX)   \
    ROW_MOMENTS(row_moments_##SUFFIX, T, start_##SUFFIX, fold_row_##SUFFIX)            \
    MOMENT_BLOCK(block_##SUFFIX, T, run_##SUFFIX, start_##SUFFIX, fold_row_##SUFFIX)   \
    AVX2_SIMD static void moments_##SUFFIX(const T *x, Py_ssize_t n, Py_ssize_t d,     \
                                             Py_ssize_t ld, Py_ssize_t block,          \
                                             Py_ssize_t g,                             \
                                             double *scratch, double *out)             \
    {                                                                                  \
        Py_ssize_t n_blocks = (n + block - 1) / block;                                 \
        Py_ssize_t sub = SUB_BYTES / (g * d * (Py_ssize_t)sizeof(T));                  \
        sub = sub < 8 ? 8 : sub;                                                       \
        for (Py_ssize_t b = 0; b < n_blocks; b++) {                                    \
            Py_ssize_t rows = (b + 1) * block <= n ? block : n - b * block;            \
            block_##SUFFIX(x + b * block * ld, rows, d, ld, g, sub, scratch,           \
                           scratch + g * d, out + b * 4 * d);                          \
        }                                                                              \
    }
MOMENTS_KERNEL(f64, double)
MOMENTS_KERNEL(f32, float)

/* How many rows the row kernel reads side by side as one virtual row, or 0
 * when the column-chunk kernel reads X instead (rows wider than ROW_DV_MAX,
 * or strided rows narrower than ROW_DV_MIN). Side by side rows need C order
 * (ld == d). */
static Py_ssize_t
row_group(Py_ssize_t d, Py_ssize_t ld)
{
    Py_ssize_t g = 1;
    if (ld == d) {
        Py_ssize_t a = d, b = 8; /* g * d a multiple of 8: g = 8 / gcd(d, 8) */
        while (b) {
            Py_ssize_t t = a % b;
            a = b;
            b = t;
        }
        g = 8 / a;
        while (g * d < ROW_VMIN)
            g *= 2;
        if (g * d > ROW_DV_MAX) /* then the last vector of a row is split */
            g = d < ROW_VMIN ? (ROW_VMIN + d - 1) / d : 1;
    }
    return g * d >= ROW_DV_MIN && g * d <= ROW_DV_MAX ? g : 0;
}

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
    Py_ssize_t ld;
    if (get_row_matrix(xo, &xv, &n, &d, &ld, &is_f32) < 0)
        return NULL;
    Py_ssize_t n_blocks = (n + block - 1) / block;
    if (get_vector(oo, &ov, 1, 'd', 8, n_blocks * 4 * d) < 0) {
        PyBuffer_Release(&xv);
        return NULL;
    }
    double *out = (double *)ov.buf;
    Py_ssize_t g = d ? row_group(d, ld) : 0;
    int by_rows = g > 0;
    if (!by_rows) {
        /* column chunks: g rows side by side make a virtual row of at least VROW_MIN columns */
        g = d >= VROW_MIN ? 1 : (VROW_MIN + d - 1) / (d ? d : 1);
        if (g > 1 && ld != d) {
            PyErr_SetString(PyExc_TypeError,
                            "rows of X must be contiguous and, when strided, at least 32 wide");
            PyBuffer_Release(&ov);
            PyBuffer_Release(&xv);
            return NULL;
        }
    }
    /* 5 virtual rows of doubles (ROW_PITCH apart for the row kernel), 64-byte aligned */
    size_t n_scratch = by_rows ? 5 * ROW_PITCH(g * d) : 5 * g * d;
    char *raw = d ? PyMem_Malloc(n_scratch * sizeof(double) + 64) : NULL;
    if (d && raw == NULL) {
        PyBuffer_Release(&ov);
        PyBuffer_Release(&xv);
        return PyErr_NoMemory();
    }
    double *scratch = raw ? (double *)(raw + (64 - (uintptr_t)raw % 64) % 64) : NULL;
    if (d && n) {
        Py_BEGIN_ALLOW_THREADS
        if (by_rows && is_f32)
            row_moments_f32((const float *)xv.buf, n, d, ld, block, g, scratch, out);
        else if (by_rows)
            row_moments_f64((const double *)xv.buf, n, d, ld, block, g, scratch, out);
        else if (is_f32)
            moments_f32((const float *)xv.buf, n, d, ld, block, g, scratch, out);
        else
            moments_f64((const double *)xv.buf, n, d, ld, block, g, scratch, out);
        Py_END_ALLOW_THREADS
    }
    PyMem_Free(raw);
    PyBuffer_Release(&ov);
    PyBuffer_Release(&xv);
    Py_RETURN_NONE;
}

/* Group sums: rows in order, each added to its group's sums (n_groups * d
 * doubles, in L1/L2) 32 columns at a time. The minimum is kept in registers
 * for the whole pass (fixed-size local array, constant trip count) instead
 * of a second read-modify-write per element; with every weight 1 the
 * multiply is skipped; and X is prefetched GROUP_AHEAD bytes ahead of the
 * reads (measured here: the pass went from about half of the read bandwidth
 * of a plain sum to ~95%; the read-modify-write of the sums otherwise keeps
 * the hardware prefetchers from running far enough ahead). Each group's
 * rows are added in row order, as a plain loop would. */
#define GROUP_W 32
#define GROUP_AHEAD (64 * 1024)
#define GROUP_ROW(T, TERM)                                                             \
    for (; j + GROUP_W <= d; j += GROUP_W) {                                           \
        for (int p = 0; p < GROUP_W * (int)sizeof(T); p += 64)                         \
            __builtin_prefetch((const char *)(r + j) + GROUP_AHEAD + p, 0, 3);         \
        for (int k = 0; k < GROUP_W; k++) {                                            \
            double v = (double)r[j + k];                                               \
            a[j + k] += TERM;                                                          \
            m[k] = v < m[k] ? v : m[k];                                                \
        }                                                                              \
    }                                                                                  \
    for (; j < d; j++) {                                                               \
        double v = (double)r[j];                                                       \
        a[j] += TERM;                                                                  \
        low = v < low ? v : low;                                                       \
    }

#define GROUP_KERNEL(NAME, T)                                                          \
    WIDEST_SIMD static double NAME(const T *restrict x, Py_ssize_t n, Py_ssize_t d,    \
                                   const int64_t *rows, const double *weights,         \
                                   int unit, double *restrict out)                     \
    {                                                                                  \
        double m[GROUP_W], low = INFINITY;                                             \
        for (int k = 0; k < GROUP_W; k++)                                              \
            m[k] = INFINITY;                                                           \
        for (Py_ssize_t i = 0; i < n; i++) {                                           \
            const T *restrict r = x + i * d;                                           \
            double *restrict a = out + rows[i] * d;                                    \
            double w = unit ? 1.0 : weights[i];                                        \
            Py_ssize_t j = 0;                                                          \
            if (unit) {                                                                \
                GROUP_ROW(T, v)                                                        \
            } else {                                                                   \
                GROUP_ROW(T, w * v)                                                    \
            }                                                                          \
        }                                                                              \
        for (int k = 0; k < GROUP_W; k++)                                              \
            low = m[k] < low ? m[k] : low;                                             \
        return low;                                                                    \
    }
GROUP_KERNEL(group_f64, double)
GROUP_KERNEL(group_f32, float)

static PyObject *
group_sums(PyObject *self, PyObject *args)
{
    PyObject *xo, *ro, *wo, *oo;
    Py_ssize_t n, d;
    int is_f32, bad_row = 0;
    Py_buffer xv, rv, wv, ov;
    double lowest = INFINITY;
    if (!PyArg_ParseTuple(args, "OOOO", &xo, &ro, &wo, &oo))
        return NULL;
    if (get_matrix(xo, &xv, &n, &d, &is_f32) < 0)
        return NULL;
    if (get_int64_vector(ro, &rv, 0, n) < 0) {
        PyBuffer_Release(&xv);
        return NULL;
    }
    int have_weights = wo != Py_None;
    if (have_weights && get_vector(wo, &wv, 0, 'd', 8, n) < 0) {
        PyBuffer_Release(&rv);
        PyBuffer_Release(&xv);
        return NULL;
    }
    if (PyObject_GetBuffer(oo, &ov, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        if (have_weights)
            PyBuffer_Release(&wv);
        PyBuffer_Release(&rv);
        PyBuffer_Release(&xv);
        return NULL;
    }
    Py_ssize_t n_groups = d ? ov.len / (8 * d) : 0;
    const int64_t *rows = (const int64_t *)rv.buf;
    const double *weights = have_weights ? (const double *)wv.buf : NULL;
    double *out = (double *)ov.buf;
    if (ov.format == NULL || ov.format[0] != 'd' || ov.itemsize != 8 ||
        (d && ov.len % (8 * d) != 0))
        bad_row = -1;
    for (Py_ssize_t i = 0; i < n && !bad_row; i++)
        if (rows[i] < 0 || rows[i] >= n_groups)
            bad_row = 1;
    if (!bad_row && d > 0) {
        int unit = 1;
        for (Py_ssize_t i = 0; have_weights && i < n && unit; i++)
            unit = weights[i] == 1.0;
        Py_BEGIN_ALLOW_THREADS
        if (is_f32)
            lowest = group_f32((const float *)xv.buf, n, d, rows, weights, unit, out);
        else
            lowest = group_f64((const double *)xv.buf, n, d, rows, weights, unit, out);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&ov);
    if (have_weights)
        PyBuffer_Release(&wv);
    PyBuffer_Release(&rv);
    PyBuffer_Release(&xv);
    if (bad_row) {
        PyErr_SetString(bad_row < 0 ? PyExc_TypeError : PyExc_ValueError,
                        bad_row < 0 ? "out must be a float64 array of shape (n_groups, d)"
                                    : "group index out of range");
        return NULL;
    }
    return PyFloat_FromDouble(lowest);
}

static PyMethodDef methods[] = {
    {"block_moments", block_moments, METH_VARARGS,
     "Per-block shifted sums, sums of squares, minima and maxima (one pass)."},
    {"group_sums", group_sums, METH_VARARGS,
     "Weighted per-group row sums and the minimum element (one pass)."},
#ifdef SKSPMD_NEIGHBOURS
    {"radius_candidates", ck_radius_candidates, METH_VARARGS,
     "Pairs of rows possibly within a radius (tiled GEMM expansion), by query row."},
    {"knn_candidates", ck_knn_candidates, METH_VARARGS,
     "The m smallest expanded squared distances of each query row (tiled)."},
#endif
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
