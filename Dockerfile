# The kdial image: one image for `kdial operator` and `kdial worker` (`make images` builds it).
# The build stage builds kdial's wheel and installs it into a virtualenv with images/kdial/install.sh,
# the same script tests/integration/test_images.py replays; the final stage is the slim base with
# that virtualenv, run as uid 10001 on a read-only root filesystem.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY dialer-worker/ dialer-worker/
COPY images/kdial/install.sh /usr/local/bin/kdial-install
RUN kdial-install /src /opt/kdial

FROM python:3.11-slim-bookworm
# A passwd entry for uid 10001: kopf names its peering identity after the user (getpass), and
# that fails for a uid without one.
RUN useradd --no-log-init --uid 10001 --user-group --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin kdial
COPY --from=build /opt/kdial /opt/kdial
# The root filesystem is read-only in the chart's pods; /tmp is an emptyDir there. Bytecode was
# compiled at install, so nothing is written beside the code, and HOME points at /tmp for the
# libraries that look there.
ENV PATH=/opt/kdial/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
ENTRYPOINT ["kdial"]
CMD ["--help"]
