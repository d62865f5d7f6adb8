"""pix2pix studio benchmarks: ``python -m benchmarks`` (the whole suite, ≤ 10 min on the 2-core CPU).

Every comparison is a ratio measured side by side in the same run; every latency is a median over repeated runs
after a warm-up. Sections (``--only`` picks some):

* ``forward``: each shipped generator's params, GFLOPs (from the layer shapes), latency, GFLOP/s and fraction of
  the machine's matmul peak, against the paper-config U-Net at 256 px;
* ``backends``: TF ``tf.function`` against the TFLite interpreter (XNNPACK) for the sketch models;
* ``sketch``: the live pad's handler from a drawing to the picture, and the browser round trip;
* ``photos``: Day→Night and Colorize end to end at 1, 4, 12 and 24 megapixels, with peak RSS;
* ``learn``: Watch them learn: a minute of live training on the examples (U-Net vs encoder-decoder held-out L1),
  and the pad's latency and the memory while it trains;
* ``training``: images/s and fraction of matmul peak at batch 1, 4 and 8, against the paper U-Net's step;
* ``app``: start-up time, RSS, RSS over 500 mixed requests, and 16 clients × 10 requests.

``--quick`` (run in CI) does one model and a few iterations of everything, so the code cannot rot; it checks no
timing. A full run exits with status 1 when a target is missed by more than 20 %.
"""
