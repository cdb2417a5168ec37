"""``necessity serve``: check where it may listen, open the log, load the policy, run uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path

from engine.deciding.errors import UserError
from exchange.serve.app import Service, Settings, create_app
from exchange.serve.log import shown


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_listening(settings: Settings) -> None:
    """Refuse an address beyond loopback without tokens, or without TLS unless --insecure-listen."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise UserError("--tls-cert and --tls-key go together: give both (the certificate chain and its private key)")
    for option, path in (("--tls-cert", settings.tls_cert), ("--tls-key", settings.tls_key)):
        if path is not None and not Path(path).is_file():
            raise UserError(f"{option} {path}: no such file: give the PEM file")
    if is_loopback(settings.host):
        return
    if settings.tokens is None:
        raise UserError(f"--host {settings.host}: without --tokens the server answers anyone who reaches it, so it "
                        "listens on loopback only (127.0.0.1, ::1): give --tokens FILE to listen beyond it")
    if settings.tls_cert is None and not settings.insecure_listen:
        raise UserError(f"--host {settings.host}: tokens and case records would cross the network in clear text: "
                        "give --tls-cert and --tls-key, or --insecure-listen when a TLS proxy on this host "
                        "terminates the connections")


def serve(settings: Settings) -> None:
    """Run the server until it is stopped (Ctrl-C, SIGTERM)."""
    import uvicorn

    check_listening(settings)
    service = Service(settings)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    served = logging.getLogger("necessity.serve")
    served.addHandler(handler)
    served.setLevel(logging.INFO)
    served.propagate = False
    scheme = "https" if settings.tls_cert else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    p = service.policy
    fixed = f"; every decision dated {service.fixed_time} ($NECESSITY_DECISION_TIME)" if service.fixed_time else ""
    print(f"necessity serve: policy {p.id} {p.version} on {scheme}://{host}:{settings.port}, decision log "
          f"{shown(service.log.url)}{'' if service.tokens else ' (no tokens: loopback only)'}{fixed}",
          file=sys.stderr, flush=True)
    config = uvicorn.Config(create_app(service), host=settings.host, port=settings.port, access_log=False,
                            log_level="warning", server_header=False, ssl_certfile=settings.tls_cert,
                            ssl_keyfile=settings.tls_key, timeout_graceful_shutdown=settings.timeout + 5)
    try:
        uvicorn.Server(config).run()
    finally:
        service.close()
