/* The k-nearest filter of the exact neighbour searches (part of skspmd._ckernels).
 *
 * The expansion ``v = xn[i] + yn[j] - 2 x_i . y_j`` in the register tiles of
 * _cneighbors.c; the caller decides with scikit-learn's own search among the
 * rows kept (skspmd/neighbors/_search.py; NumPy version in skspmd/_kernels.py).
 *
 * knn_candidates(X, Y, xn, yn, vals, inds, m)
 *     X: float64 (nq, d) query rows; Y: float64 (ny, d); xn, yn: squared norms;
 *     vals: float64 (nq, m), inds: int64 (nq, m), written: per query row, the
 *     m smallest ``v`` (ascending; ties in any order) and their rows j
 *     (1 <= m <= ny). Tiles of 8 query rows x 16 block rows; a row's list is
 *     touched only by the rare block rows below its current m-th value.
 */
#include "_ckernels.h"
#ifdef SKSPMD_NEIGHBOURS

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
            TILE_ACC(0) TILE_ACC(1) TILE_ACC(2) TILE_ACC(3)
            TILE_ACC(4) TILE_ACC(5) TILE_ACC(6) TILE_ACC(7)
            TILE_DOTS(yt, KNN_TILE, jj, d,
                      TILE_FMA(0) TILE_FMA(1) TILE_FMA(2) TILE_FMA(3)
                      TILE_FMA(4) TILE_FMA(5) TILE_FMA(6) TILE_FMA(7))
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

PyObject *
ck_knn_candidates(PyObject *self, PyObject *args)
{
    PyObject *xo, *yo, *xno, *yno, *vo, *io;
    Py_ssize_t nq, ny, d, m;
    int status = -2, held = 4;
    Py_buffer v[6]; /* X, Y, xn, yn, vals, inds */
    if (!PyArg_ParseTuple(args, "OOOOOOn", &xo, &yo, &xno, &yno, &vo, &io, &m))
        return NULL;
    if (get_query_pair(xo, yo, xno, yno, v, &nq, &ny, &d) < 0)
        return NULL;
    if (m < 1 || m > ny) {
        PyErr_SetString(PyExc_ValueError, "1 <= m <= len(Y) is required");
        goto done;
    }
    if (get_vector(vo, &v[4], 1, 'd', 8, nq * m) < 0)
        goto done;
    held = 5;
    if (get_int64_vector(io, &v[5], 1, nq * m) < 0)
        goto done;
    held = 6;
    Py_BEGIN_ALLOW_THREADS
    status = knn_all(v[0].buf, v[2].buf, nq, v[1].buf, v[3].buf, ny, d, m, v[4].buf, v[5].buf);
    Py_END_ALLOW_THREADS
    if (status < 0)
        PyErr_NoMemory();
done:
    release_buffers(v, held);
    if (status < 0)
        return NULL;
    Py_RETURN_NONE;
}

#endif /* SKSPMD_NEIGHBOURS */
