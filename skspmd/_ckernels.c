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
 * radius_candidates, knn_candidates: the neighbour searches' filters, in
 * _cneighbors.c and _cknn.c.
 */
#include "_ckernels.h"

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
