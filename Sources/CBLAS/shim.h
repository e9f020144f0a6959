#include <cblas.h>
// OpenBLAS extensions (declared in its cblas.h): threads and the selected core.
