// MPIShim: the one place Carve touches MPI.
//
// Why this shim exists: Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE,
// ...) are macros over addresses of global structs, which Swift cannot import. Each function
// below takes plain C types, uses MPI_COMM_WORLD (the arrival notices a duplicate of it), and
// returns MPI's error code (MPI_SUCCESS = 0) so the Swift side (DDP's MPICommunicator) can turn
// failures into errors with MPI's message.
// Errors are returned, not fatal: carve_mpi_init sets MPI_ERRORS_RETURN on the world communicator.
#ifndef CARVE_MPI_SHIM_H
#define CARVE_MPI_SHIM_H

#include <stddef.h>
#include <stdint.h>

/// Initialises MPI with at least MPI_THREAD_FUNNELED; `provided` receives the level granted
/// (0 single, 1 funneled, 2 serialized, 3 multiple).
int carve_mpi_init(int *provided);
int carve_mpi_finalize(void);
/// 1 when MPI_Init has been called (and MPI_Finalize not yet), else 0.
int carve_mpi_initialized(void);
int carve_mpi_finalized(void);
int carve_mpi_rank(int *rank);
int carve_mpi_size(int *size);

/// In-place sum over all ranks. `count` elements; counts above INT_MAX are sent in pieces.
int carve_mpi_allreduce_sum_float(float *buffer, size_t count);
int carve_mpi_allreduce_sum_double(double *buffer, size_t count);
int carve_mpi_allreduce_sum_int64(int64_t *buffer, size_t count);
/// In-place max of int64 values (used to agree on flags such as "some rank failed").
int carve_mpi_allreduce_max_int64(int64_t *buffer, size_t count);

/// Broadcasts `count` bytes from `root` into every rank's `buffer`.
int carve_mpi_broadcast_bytes(void *buffer, size_t count, int root);
/// Gathers `count` bytes from every rank into `receive` (size × count bytes, rank order).
int carve_mpi_allgather_bytes(const void *send, void *receive, size_t count);
int carve_mpi_barrier(void);
// MARK: Non-blocking collectives (the watchdog waits on these; Note [Collective watchdog] in DDP)
//
// Each call starts the operation on MPI_COMM_WORLD and hands back a request, which stays the
// shim's until `carve_mpi_test` reports it done (and frees it). Counts above INT_MAX return
// MPI_ERR_COUNT: the caller sends larger buffers in pieces. One collective at a time, in the
// same order on every rank, exactly as for the blocking calls above.

/// An operation in flight; opaque to Swift (an MPI_Request and, for notices, its payload).
typedef struct carve_mpi_request carve_mpi_request;

int carve_mpi_iallreduce_sum_float(float *buffer, size_t count, carve_mpi_request **request);
int carve_mpi_iallreduce_sum_double(double *buffer, size_t count, carve_mpi_request **request);
int carve_mpi_iallreduce_sum_int64(int64_t *buffer, size_t count, carve_mpi_request **request);
int carve_mpi_iallreduce_max_int64(int64_t *buffer, size_t count, carve_mpi_request **request);
int carve_mpi_ibroadcast_bytes(void *buffer, size_t count, int root, carve_mpi_request **request);
int carve_mpi_iallgather_bytes(const void *send, void *receive, size_t count, carve_mpi_request **request);
int carve_mpi_ibarrier(carve_mpi_request **request);
/// Sets `*done` to 1 and frees `request` when it has finished, else sets `*done` to 0 (and
/// drives MPI's progress). On an error the request stays in flight.
int carve_mpi_test(carve_mpi_request *request, int *done);

// MARK: Arrival notices (point-to-point, on a private duplicate of MPI_COMM_WORLD)
//
// A rank that has waited a while in collective #n tells every other rank "I am at n"; the
// watchdog names the ranks it heard nothing of. Notices never match collective traffic.

/// Starts sending `value` to `destination`; the payload is copied, so the caller keeps nothing.
int carve_mpi_notice_send(int64_t value, int destination, carve_mpi_request **request);
/// Receives one notice that has arrived from any rank, if there is one: `*found` 1 with `*value`
/// and `*source` set, else 0. Never waits.
int carve_mpi_notice_receive(int64_t *value, int *source, int *found);

/// Terminates every process of the job with `code`. Does not return on success.
int carve_mpi_abort(int code);
/// Writes MPI's message for `code` into `buffer` (NUL-terminated, at most `capacity` bytes).
void carve_mpi_error_string(int code, char *buffer, size_t capacity);

#endif
