/* The radius filter of the exact neighbour searches (part of skspmd._ckernels;
 * the k-nearest one is in _cknn.c).
 *
 * Both filters compute squared euclidean distances by the expansion
 * ``xn[i] + yn[j] - 2 x_i . y_j`` in register tiles (query rows x 16 block
 * rows, FMA where the CPU has it) and write out only what the caller must
 * then decide with scikit-learn's own search (see skspmd/neighbors/_search.py
 * and skspmd/_kernels.py, which has a NumPy version of each, tested against
 * these).
 *
 * radius_candidates(X, Y, xn, yn, r2, tau, x_order, y_order)
 *     X: C-contiguous float64 (nq, d) query rows and Y (ny, d) block rows,
 *     both already in a spatial order (a KD tree's leaves); xn, yn: their
 *     squared norms; x_order, y_order: int64, each position's original row.
 *     Returns three bytearrays: int64 counts per original query row, int64
 *     original block rows (row after row, increasing), and uint8 flags: a
 *     pair with s = xn + yn is returned when ``v - tau s <= r2`` and flagged
 *     when also ``v + tau s > r2`` (within the margin: the caller decides).
 *     Groups of 32 query rows and tiles of 64 block rows whose bounding
 *     boxes lie farther apart than r2 and the margin are skipped.
 */
#include "_ckernels.h"
#ifdef SKSPMD_NEIGHBOURS

/* ---- radius candidates: tiled expansion ||x||^2 + ||y||^2 - 2 x.y ---- */

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
            TILE_ACC(0) TILE_ACC(1) TILE_ACC(2) TILE_ACC(3)
            TILE_DOTS(yt, TILE_COLS, jj, d, TILE_FMA(0) TILE_FMA(1) TILE_FMA(2) TILE_FMA(3))
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

PyObject *
ck_radius_candidates(PyObject *self, PyObject *args)
{
    PyObject *xo, *yo, *xno, *yno, *qpo, *ypo, *result = NULL;
    double r2, tau;
    Py_ssize_t nq, ny, d;
    int status, held = 4;
    Py_buffer v[6]; /* X, Y, xn, yn, query row order, block row order */
    pairs_t p = {0};
    if (!PyArg_ParseTuple(args, "OOOOddOO", &xo, &yo, &xno, &yno, &r2, &tau, &qpo, &ypo))
        return NULL;
    if (get_query_pair(xo, yo, xno, yno, v, &nq, &ny, &d) < 0)
        return NULL;
    if (get_int64_vector(qpo, &v[4], 0, nq) < 0)
        goto done;
    held = 5;
    if (get_int64_vector(ypo, &v[5], 0, ny) < 0)
        goto done;
    held = 6;
    /* the permutations must be permutations: out-of-range rows would corrupt memory */
    const int64_t *qp = v[4].buf, *yp = v[5].buf;
    int bad = 0;
    for (Py_ssize_t i = 0; i < nq; i++)
        bad |= qp[i] < 0 || qp[i] >= nq;
    for (Py_ssize_t j = 0; j < ny; j++)
        bad |= yp[j] < 0 || yp[j] >= ny;
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "row orders out of range");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    status = radius_all(v[0].buf, v[2].buf, nq, v[1].buf, v[3].buf, ny, d, r2, tau, qp, yp, &p);
    Py_END_ALLOW_THREADS
    if (status < 0) {
        PyErr_NoMemory();
        goto done;
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
done:
    release_buffers(v, held);
    free(p.row);
    free(p.col);
    free(p.flag);
    return result;
}

#endif /* SKSPMD_NEIGHBOURS */
