"""`python -m utlegg_gateway.mapping._worker`: one mapping worker process (see `_parallel`)."""

from utlegg_gateway.mapping._parallel import worker_main

if __name__ == "__main__":
    worker_main()
