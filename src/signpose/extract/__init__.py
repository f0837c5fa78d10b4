"""An extraction: ``driver`` (a whole run: lock, dataset, resume, backend, index, stop),
``worker`` (one clip start to finish inside a worker), ``workers`` and ``gpus`` (how many
workers, where), ``machine`` (what run.json says of the machine)."""
