// OpenBLAS cblas_sgemm vs oneDNN dnnl_sgemm on the GEMM shapes of the paper-hoc-fruit step
// (global batch 16, so 160 instances): the measurement issue 8 asks for before adopting another
// backend. Row-major, single precision, GFLOP/s = 2·M·N·K / seconds, median of 5 after a warm-up.
//
//   cc -O2 sgemm_compare.c -lopenblas -ldnnl -o /tmp/sgemm_compare
//   OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /tmp/sgemm_compare
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { const char *name; int m, n, k; char ta, tb; } Shape;

int main(void) {
    Shape shapes[] = {
        {"1024^3", 1024, 1024, 1024, 'N', 'N'},
        {"G conv1 fwd  W[256,4096]·col", 256, 10240, 4096, 'N', 'N'},
        {"G conv1 dW   dy·colT", 256, 4096, 10240, 'N', 'T'},
        {"G conv1 dcol WT·dy", 4096, 10240, 256, 'T', 'N'},
        {"G deconv1 fwd WT·xT", 2048, 10240, 256, 'T', 'N'},
        {"G deconv2 fwd WT·xT", 1024, 40960, 128, 'T', 'N'},
        {"G deconv3 fwd WT·xT", 64, 163840, 64, 'T', 'N'},
        {"D conv2 fwd", 128, 4096, 576, 'N', 'N'},
        {"D conv5 fwd", 1024, 256, 4608, 'N', 'N'},
        {"D conv5 dcol", 4608, 256, 1024, 'T', 'N'},
    };
    printf("%-32s %10s %10s\n", "shape (M×N×K)", "OpenBLAS", "oneDNN");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        Shape sh = shapes[s];
        int lda = sh.ta == 'N' ? sh.k : sh.m, ldb = sh.tb == 'N' ? sh.n : sh.k;
        float *a = malloc(sizeof(float) * sh.m * sh.k), *b = malloc(sizeof(float) * sh.k * sh.n);
        float *c = malloc(sizeof(float) * sh.m * sh.n);
        for (long i = 0; i < (long)sh.m * sh.k; i++) a[i] = (float)(i % 7) * 0.1f;
        for (long i = 0; i < (long)sh.k * sh.n; i++) b[i] = (float)(i % 5) * 0.1f;
        double rates[2];
        for (int lib = 0; lib < 2; lib++) {
            double t[6];
            for (int r = 0; r < 6; r++) {
                double t0 = now();
                if (lib == 0)
                    cblas_sgemm(CblasRowMajor, sh.ta == 'N' ? CblasNoTrans : CblasTrans,
                                sh.tb == 'N' ? CblasNoTrans : CblasTrans, sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 0, c, sh.n);
                else
                    dnnl_sgemm(sh.ta, sh.tb, sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 0, c, sh.n);
                t[r] = now() - t0;
            }
            qsort(t + 1, 5, sizeof(double), cmp);
            rates[lib] = 2.0 * sh.m * sh.n * (double)sh.k / t[3] / 1e9;
        }
        printf("%-32s %10.1f %10.1f\n", sh.name, rates[0], rates[1]);
        free(a); free(b); free(c);
    }
    return 0;
}
