"""The demo workloads the examples, the CLI and the benchmarks use: TinyGPT and its
character corpus, the sentence classifier, and the packaged models and corpora
(:mod:`~lrkit.nn.workloads.models`, :mod:`~lrkit.nn.workloads.datasets`)."""
