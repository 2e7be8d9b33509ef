# beetles on the paper's stack (Theano 1.0.5, Lasagne 0.1, nolearn 0.6.1).
#   docker build -t beetles .
#   docker run --rm -v "$PWD/results:/beetles/results" beetles
# writes the paper's tables into results/paper_tables/.
FROM python:3.11.7-slim-bookworm

# Theano compiles to C: it needs g++; OpenBLAS makes its BLAS calls faster.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ libopenblas-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /beetles
COPY . .
# The same install as the README's (tests/test_packaging.py checks it).
RUN python3.11 -m venv .venv && .venv/bin/pip install -e '.[test]'
ENV PATH=/beetles/.venv/bin:$PATH
# Compile once at build time so that every run starts from Theano's cache.
RUN beetles info

CMD ["beetles", "tables", "--out", "results/paper_tables"]
