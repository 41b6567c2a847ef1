/* Shared by the compiled kernels (_ckernels.c, _cneighbors.c): buffer checks
 * and the multiversioning macros. */
#ifndef SKSPMD_CKERNELS_H
#define SKSPMD_CKERNELS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A 2-D float64/float32 buffer whose rows are contiguous and ld >= d elements
 * apart (a C-ordered array or a row-strided view such as X[:, :-1]). */
static inline int
get_row_matrix(PyObject *obj, Py_buffer *view, Py_ssize_t *n, Py_ssize_t *d, Py_ssize_t *ld,
               int *is_f32)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT) < 0)
        return -1;
    int ok = view->ndim == 2 && view->format != NULL &&
             ((view->format[0] == 'd' && view->itemsize == 8) ||
              (view->format[0] == 'f' && view->itemsize == 4));
    if (ok) {
        Py_ssize_t size = view->itemsize, rows = view->shape[0], cols = view->shape[1];
        *n = rows;
        *d = cols;
        *ld = cols;
        ok = cols <= 1 || view->strides[1] == size;
        if (ok && rows > 1) {
            Py_ssize_t pitch = view->strides[0];
            ok = pitch > 0 && pitch % size == 0 && pitch / size >= cols;
            *ld = ok ? pitch / size : cols;
        }
        *is_f32 = view->format[0] == 'f';
    }
    if (!ok) {
        PyErr_SetString(PyExc_TypeError,
                        "expected a 2-D float64 or float32 array with contiguous rows");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* A C-contiguous 2-D float64/float32 buffer. */
static inline int
get_matrix(PyObject *obj, Py_buffer *view, Py_ssize_t *n, Py_ssize_t *d, int *is_f32)
{
    Py_ssize_t ld;
    if (get_row_matrix(obj, view, n, d, &ld, is_f32) < 0)
        return -1;
    if (ld != *d) {
        PyErr_SetString(PyExc_TypeError, "expected a C-contiguous 2-D float64 or float32 array");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static inline int
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

/* An int64 vector: NumPy exports int64 as 'l' or 'q', by platform. */
static inline int
get_int64_vector(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t length)
{
    if (get_vector(obj, view, writable, 'l', 8, length) == 0)
        return 0;
    PyErr_Clear();
    return get_vector(obj, view, writable, 'q', 8, length);
}

static inline void
release_buffers(Py_buffer *views, int count)
{
    while (count > 0)
        PyBuffer_Release(&views[--count]);
}

/* The neighbour filters' operands: X (nq x d) and Y (ny x d), C-ordered
 * float64 with the same columns, and their squared row norms xn and yn, into
 * views[0..3] (all released again when one is wrong). */
static inline int
get_query_pair(PyObject *xo, PyObject *yo, PyObject *xno, PyObject *yno, Py_buffer views[4],
               Py_ssize_t *nq, Py_ssize_t *ny, Py_ssize_t *d)
{
    Py_ssize_t dy;
    int f32x, f32y, held = 0;
    if (get_matrix(xo, &views[0], nq, d, &f32x) < 0)
        return -1;
    held = 1;
    if (get_matrix(yo, &views[1], ny, &dy, &f32y) < 0)
        goto fail;
    held = 2;
    if (f32x || f32y || *d != dy) {
        PyErr_SetString(PyExc_TypeError, "X and Y must be float64 with the same columns");
        goto fail;
    }
    if (get_vector(xno, &views[2], 0, 'd', 8, *nq) < 0)
        goto fail;
    held = 3;
    if (get_vector(yno, &views[3], 0, 'd', 8, *ny) < 0)
        goto fail;
    return 0;
fail:
    release_buffers(views, held);
    return -1;
}

/* Each kernel is compiled for AVX-512, AVX2 and the baseline; the loader picks
 * the widest the CPU has (GCC function multiversioning), so one build serves
 * every x86-64 CPU at its own vector width. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define WIDEST_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))
/* AVX2 at most (also on AVX-512 CPUs): for the moments' column-chunk kernel,
 * measured 6-25% faster with 256-bit vectors than with its AVX-512 clone on
 * the Zen 5 here (500-2,000 columns, 2 processes at once). */
#define AVX2_SIMD __attribute__((target_clones("avx2", "default")))
#else
#define WIDEST_SIMD
#define AVX2_SIMD
#endif

/* The neighbour kernels: 8 doubles per vector (GCC/Clang vector extensions;
 * split into narrower registers where the CPU has no AVX-512). Other
 * compilers build the module without them (skspmd/_kernels.py then uses its
 * NumPy versions). */
#if defined(__GNUC__) || defined(__clang__)
#define SKSPMD_NEIGHBOURS 1
typedef double v8d __attribute__((vector_size(64)));
typedef long long v8l __attribute__((vector_size(64)));

/* The comparisons of whole vectors need AVX-512DQ (x86-64-v4) to stay in vector registers. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define WIDEST_SIMD_V4 __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define WIDEST_SIMD_V4
#endif

/* Whether any lane of a or b is negative (sign bits ORed, then halved three times). */
static inline __attribute__((always_inline)) int
any_negative(v8d a, v8d b)
{
    v8l o = (v8l)a | (v8l)b;
#if defined(__clang__)
    o |= __builtin_shufflevector(o, o, 4, 5, 6, 7, 0, 1, 2, 3);
    o |= __builtin_shufflevector(o, o, 2, 3, 0, 1, 6, 7, 4, 5);
    o |= __builtin_shufflevector(o, o, 1, 0, 3, 2, 5, 4, 7, 6);
#else
    o |= __builtin_shuffle(o, (v8l){4, 5, 6, 7, 0, 1, 2, 3});
    o |= __builtin_shuffle(o, (v8l){2, 3, 0, 1, 6, 7, 4, 5});
    o |= __builtin_shuffle(o, (v8l){1, 0, 3, 2, 5, 4, 7, 6});
#endif
    return o[0] < 0;
}

/* The register tile of the neighbour filters: query rows x0, x1, ... (R of
 * them) against 16 packed block rows (columns jj..jj+15 of yt, ld doubles per
 * feature): two accumulators per query row, a##R##0 and a##R##1, summing
 * x_R[k] * yt[k, jj..jj+15] over the d features. Pure text, so each kernel
 * keeps its own tile height (_cknn.c 8, _cneighbors.c 4) and register code. */
#define TILE_ACC(R) v8d a##R##0 = {0}, a##R##1 = {0};
#define TILE_FMA(R)                                                                    \
    a##R##0 += x##R[k] * y0;                                                           \
    a##R##1 += x##R[k] * y1;
#define TILE_DOTS(yt, ld, jj, d, FMAS)                                                 \
    for (Py_ssize_t k = 0; k < (d); k++) {                                             \
        v8d y0, y1;                                                                    \
        memcpy(&y0, (yt) + k * (ld) + (jj), sizeof(v8d));                              \
        memcpy(&y1, (yt) + k * (ld) + (jj) + 8, sizeof(v8d));                          \
        FMAS                                                                           \
    }

/* The neighbour kernels (_cneighbors.c, _cknn.c). */
PyObject *ck_radius_candidates(PyObject *self, PyObject *args);
PyObject *ck_knn_candidates(PyObject *self, PyObject *args);
#endif

#endif
