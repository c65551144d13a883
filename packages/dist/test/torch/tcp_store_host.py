# Hosts a real PyTorch c10d TCPStore for the dist tests (the store torchrun's agent hosts on MASTER_PORT).
# argv: port world_size. Prints "TORCH <version>", then builds the store with wait_for_workers=True: the
# constructor returns (and "JOINED" is printed) only once world_size clients, this one included, have counted
# themselves in at the raw key "init/", as torch's own clients do. Then it answers stdin lines:
# "get <key>" -> "VALUE <key> <value>" (a Python client reading what the JS side wrote), "set <key> <value>" -> "OK".
# Exits when stdin closes.
import sys
from datetime import timedelta

import torch
import torch.distributed as dist

port, world = int(sys.argv[1]), int(sys.argv[2])
print(f"TORCH {torch.__version__}", flush=True)
store = dist.TCPStore("127.0.0.1", port, world, True, timedelta(seconds=60))
print("JOINED", flush=True)
for line in sys.stdin:
    parts = line.rstrip("\n").split(" ", 2)
    if parts[0] == "get":
        print(f"VALUE {parts[1]} {store.get(parts[1]).decode()}", flush=True)
    elif parts[0] == "set":
        store.set(parts[1], parts[2])
        print("OK", flush=True)
