import DDP
print("mpi-tests: placeholder")
