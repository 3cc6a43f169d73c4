"""Where the tests' third-party and sample data live: inside the repository, never beside it.

`tests/model/data/SOURCES.md` gives the upstream commit of each official example, and
`tests/mapping/data/samples/FORMATS.md` describes the two legacy export formats.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
# Skatteetaten's official model 1.1 example begjæring, verbatim.
REFERENCE = TESTS / "model" / "data" / "model-1.1-begjaering-v1.json"
# The two legacy export formats, their PDFs and the exact JSON each must map to.
SAMPLES = TESTS / "mapping" / "data" / "samples"
