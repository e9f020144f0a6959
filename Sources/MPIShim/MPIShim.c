// See MPIShim.h for why this file exists. It is the only file in Carve that includes <mpi.h>.
#include "MPIShim.h"

#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

// The arrival notices' own communicator (a duplicate of MPI_COMM_WORLD), so that no notice can
// ever match a message of a collective.
static MPI_Comm notices = MPI_COMM_NULL;
enum { notice_tag = 1 };

int carve_mpi_init(int *provided) {
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
    if (rc != MPI_SUCCESS) return rc;
    rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS) return rc;
    rc = MPI_Comm_dup(MPI_COMM_WORLD, &notices);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Comm_set_errhandler(notices, MPI_ERRORS_RETURN);
}

int carve_mpi_finalize(void) { return MPI_Finalize(); }

int carve_mpi_initialized(void) {
    int flag = 0;
    MPI_Initialized(&flag);
    return flag;
}

int carve_mpi_finalized(void) {
    int flag = 0;
    MPI_Finalized(&flag);
    return flag;
}

int carve_mpi_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
int carve_mpi_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }

// MPI counts are ints: split larger buffers into INT_MAX-sized pieces.
static int allreduce_pieces(void *buffer, size_t count, size_t elem, MPI_Datatype type, MPI_Op op) {
    char *p = (char *)buffer;
    while (count > 0) {
        size_t n = count > (size_t)INT_MAX ? (size_t)INT_MAX : count;
        int rc = MPI_Allreduce(MPI_IN_PLACE, p, (int)n, type, op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
        p += n * elem;
        count -= n;
    }
    return MPI_SUCCESS;
}

int carve_mpi_allreduce_sum_float(float *buffer, size_t count) {
    return allreduce_pieces(buffer, count, sizeof(float), MPI_FLOAT, MPI_SUM);
}
int carve_mpi_allreduce_sum_double(double *buffer, size_t count) {
    return allreduce_pieces(buffer, count, sizeof(double), MPI_DOUBLE, MPI_SUM);
}
int carve_mpi_allreduce_sum_int64(int64_t *buffer, size_t count) {
    return allreduce_pieces(buffer, count, sizeof(int64_t), MPI_INT64_T, MPI_SUM);
}
int carve_mpi_allreduce_max_int64(int64_t *buffer, size_t count) {
    return allreduce_pieces(buffer, count, sizeof(int64_t), MPI_INT64_T, MPI_MAX);
}

int carve_mpi_broadcast_bytes(void *buffer, size_t count, int root) {
    char *p = (char *)buffer;
    while (count > 0) {
        size_t n = count > (size_t)INT_MAX ? (size_t)INT_MAX : count;
        int rc = MPI_Bcast(p, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
        p += n;
        count -= n;
    }
    return MPI_SUCCESS;
}

int carve_mpi_allgather_bytes(const void *send, void *receive, size_t count) {
    if (count > (size_t)INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allgather(send, (int)count, MPI_BYTE, receive, (int)count, MPI_BYTE, MPI_COMM_WORLD);
}

int carve_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

// MARK: - Non-blocking collectives

struct carve_mpi_request {
    MPI_Request request;
    int64_t payload;  // a notice's value, which must outlive its MPI_Isend
};

static carve_mpi_request *new_request(void) {
    carve_mpi_request *r = malloc(sizeof *r);
    if (r != NULL) r->request = MPI_REQUEST_NULL;
    return r;
}

// Starts one collective: `start` fills r->request; on failure nothing stays allocated.
#define START(count, call)                                     \
    do {                                                       \
        if ((count) > (size_t)INT_MAX) return MPI_ERR_COUNT;   \
        carve_mpi_request *r = new_request();                  \
        if (r == NULL) return MPI_ERR_NO_MEM;                  \
        int rc = (call);                                       \
        if (rc != MPI_SUCCESS) { free(r); return rc; }         \
        *request = r;                                          \
        return MPI_SUCCESS;                                    \
    } while (0)

int carve_mpi_iallreduce_sum_float(float *buffer, size_t count, carve_mpi_request **request) {
    START(count, MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &r->request));
}
int carve_mpi_iallreduce_sum_double(double *buffer, size_t count, carve_mpi_request **request) {
    START(count, MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &r->request));
}
int carve_mpi_iallreduce_sum_int64(int64_t *buffer, size_t count, carve_mpi_request **request) {
    START(count, MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD, &r->request));
}
int carve_mpi_iallreduce_max_int64(int64_t *buffer, size_t count, carve_mpi_request **request) {
    START(count, MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD, &r->request));
}
int carve_mpi_ibroadcast_bytes(void *buffer, size_t count, int root, carve_mpi_request **request) {
    START(count, MPI_Ibcast(buffer, (int)count, MPI_BYTE, root, MPI_COMM_WORLD, &r->request));
}
int carve_mpi_iallgather_bytes(const void *send, void *receive, size_t count, carve_mpi_request **request) {
    START(count, MPI_Iallgather(send, (int)count, MPI_BYTE, receive, (int)count, MPI_BYTE, MPI_COMM_WORLD,
                                &r->request));
}
int carve_mpi_ibarrier(carve_mpi_request **request) { START(0, MPI_Ibarrier(MPI_COMM_WORLD, &r->request)); }

int carve_mpi_test(carve_mpi_request *request, int *done) {
    int flag = 0;
    int rc = MPI_Test(&request->request, &flag, MPI_STATUS_IGNORE);
    *done = rc == MPI_SUCCESS && flag;
    if (*done) free(request);
    return rc;
}

// MARK: - Arrival notices

int carve_mpi_notice_send(int64_t value, int destination, carve_mpi_request **request) {
    carve_mpi_request *r = new_request();
    if (r == NULL) return MPI_ERR_NO_MEM;
    r->payload = value;
    int rc = MPI_Isend(&r->payload, 1, MPI_INT64_T, destination, notice_tag, notices, &r->request);
    if (rc != MPI_SUCCESS) { free(r); return rc; }
    *request = r;
    return MPI_SUCCESS;
}

int carve_mpi_notice_receive(int64_t *value, int *source, int *found) {
    MPI_Status status;
    int rc = MPI_Iprobe(MPI_ANY_SOURCE, notice_tag, notices, found, &status);
    if (rc != MPI_SUCCESS || !*found) return rc;
    *source = status.MPI_SOURCE;
    // The probed message has arrived: this receive completes at once.
    return MPI_Recv(value, 1, MPI_INT64_T, status.MPI_SOURCE, notice_tag, notices, MPI_STATUS_IGNORE);
}

int carve_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

void carve_mpi_error_string(int code, char *buffer, size_t capacity) {
    if (capacity == 0) return;
    char message[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, message, &length) != MPI_SUCCESS) {
        strncpy(message, "unknown MPI error", sizeof message);
        length = (int)strlen(message);
    }
    size_t n = (size_t)length < capacity - 1 ? (size_t)length : capacity - 1;
    memcpy(buffer, message, n);
    buffer[n] = '\0';
}
