"""Domain benchmarks: registering against the local EPP registry, and availability checks.

The local registry runs in a child process (`manage.py epp_local --memory`), so it does
not share this process's interpreter lock. Each figure has a floor: the same frames
sent bare over one TLS session of the same registry, without building, schema checks,
parsing, the database, the vault or the ledger.
"""

from __future__ import annotations

import cProfile
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.__main__ import Figure


@contextmanager
def local_registry() -> Iterator[tuple[int, Path]]:
    from django.conf import settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cert_dir = Path(settings.VAR_DIR) / "epp-local"
    env = {**os.environ, "KLUIS_DEBUG": "1", "KLUIS_EPP_CAFILE": str(cert_dir / "cert.pem")}
    child = subprocess.Popen(  # noqa: S603 - this interpreter, our own command
        [sys.executable, "manage.py", "epp_local", "--memory", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, cert_dir / "cert.pem"
    finally:
        child.terminate()
        child.wait(timeout=10)


def _bare_loop(port: int, cert: Path, client_id: str, frames: list[bytes]) -> float:
    """Seconds to send `frames` and read each answer over one logged-in TLS session."""
    import ssl

    from django.conf import settings

    from kluis.domains.epp import commands as cmd
    from kluis.domains.epp.framing import encode_frame, read_frame
    from kluis.domains.epp.xml import serialize

    context = ssl.create_default_context(cafile=str(cert))
    raw = socket.create_connection(("127.0.0.1", port))
    tls = context.wrap_socket(raw, server_hostname="127.0.0.1")
    read_frame(tls)
    login = cmd.login(
        client_id=client_id,
        password=settings.KLUIS_EPP_LOCAL_PASSWORD,
        objects=[
            "urn:ietf:params:xml:ns:domain-1.0",
            "urn:ietf:params:xml:ns:contact-1.0",
            "urn:ietf:params:xml:ns:host-1.0",
        ],
        extensions=["http://rxsd.domain-registry.nl/sidn-ext-epp-1.0"],
    )
    tls.sendall(encode_frame(serialize(login)))
    read_frame(tls)
    framed = [encode_frame(f) for f in frames]
    answers = []
    start = time.perf_counter()
    for frame in framed:
        tls.sendall(frame)
        answers.append(read_frame(tls))
    elapsed = time.perf_counter() - start
    tls.close()
    # The floor must have done the same work: every command answered 1000.
    refused = [a for a in answers if b'code="1000"' not in a]
    assert not refused, refused[0][:400]
    return elapsed


def _customers(n: int) -> list[object]:
    from django.db import transaction

    from kluis.accounts.models import Customer
    from kluis.domains.services import registrations_queue
    from kluis.shop import documents
    from kluis.shop.catalogue import catalogue_load
    from kluis.shop.domains import domain_name_create
    from kluis.shop.models import DOMAIN_MARK, DomainExtension, Order, OrderLine
    from kluis.vault.keys import key_scope

    catalogue_load()
    nl = DomainExtension.objects.get(tld="nl")
    values = {
        "name": "Sanne de Vries",
        "email": "sanne@example.nl",
        "phone": "+31 6 12345678",
        "address_street": "Prinsengracht 263",
        "address_postcode": "1016GV",
        "address_city": "Amsterdam",
    }
    with transaction.atomic(), transaction.atomic(using="keystore"), key_scope():
        customers = Customer.objects.bulk_create(
            [Customer(number=f"D{i:07d}", **values) for i in range(n)], batch_size=500
        )
        for i, customer in enumerate(customers):
            order = Order.objects.create(
                number=f"BD{i:07d}",
                customer=customer,
                status=Order.Status.IN_PROGRESS,
                idempotency_key=f"bench-domain-{i}",
                agreement_version=documents.current_version("agreement"),
                processor_agreement_version=documents.current_version("processor_agreement"),
            )
            OrderLine.objects.create(
                order=order,
                position=0,
                kind=OrderLine.Kind.DOMAIN,
                extension=nl,
                domain_name=domain_name_create(customer=customer, name=f"bench-{i:05d}.nl"),
                description=DOMAIN_MARK,
                price_cents=nl.price_cents,
                period=nl.period,
            )
            registrations_queue(order=order)
    return list(customers)


def _floor_frames(n: int) -> list[bytes]:
    """The frames one registration sends in a run, for n other names and handles: the
    registrant contact and the domain (a run checks our hosts and our own admin/tech
    contact once per registry, not per domain)."""
    from kluis.domains.epp import commands as cmd
    from kluis.domains.epp.xml import serialize

    frames = []
    for i in range(n):
        data = cmd.ContactData(
            handle=f"FL-{i:07d}",
            postal=cmd.PostalInfo(
                name="Sanne de Vries",
                street=["Prinsengracht 263"],
                city="Amsterdam",
                postcode="1016GV",
                country="NL",
            ),
            email="sanne@example.nl",
            voice="+31.612345678",
            legal_form="PERSOON",
        )
        frames.append(serialize(cmd.contact_create(data, sidn=True)))
        frames.append(
            serialize(
                cmd.domain_create(
                    name=f"floor-{i:05d}.nl",
                    years=1,
                    registrant=f"FL-{i:07d}",
                    auth_pw="Token12345",
                    nameservers=["ns1.winkeltjes.net", "ns2.winkeltjes.net"],
                    admin="KLS-REGISTRAR",
                    tech="KLS-REGISTRAR",
                )
            )
        )
    return frames


def _bare_parallel(
    port: int, cert: Path, client_id: str, frames: list[bytes], sessions: int, per: int
) -> float:
    """Seconds to send `frames` over `sessions` sessions at once, in groups of `per`
    frames (one registration's) kept on one session: what a pipelined run could do."""
    groups = [frames[i : i + per] for i in range(0, len(frames), per)]
    shares = [[f for g in groups[s::sessions] for f in g] for s in range(sessions)]
    times: list[float] = [0.0] * sessions

    def one(s: int) -> None:
        times[s] = _bare_loop(port, cert, client_id, shares[s])

    threads = [threading.Thread(target=one, args=(s,)) for s in range(sessions)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - start


def bench_domains(n: int = 1_000, checks: int = 10_000) -> list[Figure]:
    from django.conf import settings

    from kluis.domains import registries
    from kluis.domains.epp import commands as cmd
    from kluis.domains.epp.xml import serialize
    from kluis.domains.models import DomainRegistration
    from kluis.domains.services import registrations_run

    _customers(n)
    with local_registry() as (port, cert):
        settings.KLUIS_EPP_ENDPOINTS = {
            key: f"epp://kluis-{key}:{settings.KLUIS_EPP_LOCAL_PASSWORD}@127.0.0.1:{port}"
            for key in registries.REGISTRIES
        }
        settings.KLUIS_EPP_CAFILE = str(cert)
        registries.pool.cache_clear()
        # One registration first, so the floor finds our hosts and admin contact there.
        registrations_run(limit=1)
        # KLUIS_BENCH_PROFILE=FILE: a cProfile of the run (CPU time) written to FILE.
        profile_to = os.environ.get("KLUIS_BENCH_PROFILE")
        profiler = cProfile.Profile(time.process_time) if profile_to else None
        start, start_cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        outcome = registrations_run(limit=n)
        if profiler is not None:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if profiler is not None and profile_to:
            profiler.dump_stats(profile_to)
        done = DomainRegistration.objects.filter(status="registered").count()
        assert done == n, outcome
        pool = registries.pool("sidn")
        sessions = pool.peak
        pool.close()  # the floor's session counts against the registry's limit
        frames = _floor_frames(n - 1)
        start_cpu = time.process_time()
        floor = _bare_loop(port, cert, "kluis-sidn", frames)
        floor_cpu = time.process_time() - start_cpu
        other = [f.replace(b"FL-", b"FP-").replace(b"floor-", b"fpar-") for f in frames]
        parallel = _bare_parallel(port, cert, "kluis-sidn", other, sessions, 2)

        pool = registries.pool("sidn")
        per_thread = checks // pool.max_sessions

        def work(t: int) -> None:
            for i in range(per_thread):
                with pool.session() as c:
                    c.domain_check([f"check-{t}-{i}.nl"])

        threads = [threading.Thread(target=work, args=(t,)) for t in range(pool.max_sessions)]
        start = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        check_time = time.perf_counter() - start
        check_frames = [serialize(cmd.domain_check([f"bare-{i}.nl"])) for i in range(checks)]
        check_floor = _bare_loop(port, cert, "kluis-eurid", check_frames)
        pool.close()
        registries.pool.cache_clear()
    rate, floor_rate = (n - 1) / elapsed, (n - 1) / floor
    cpu_rate, floor_cpu_rate = (n - 1) / cpu, (n - 1) / floor_cpu
    check_rate = per_thread * pool.max_sessions / check_time
    return [
        Figure(
            f"register {n - 1:,} .nl domains with contacts at the local EPP registry",
            rate,
            "domains/s",
            floor_rate,
            ">= 1/2 of floor (within 2x)",
            rate >= floor_rate / 2,
        ),
        Figure(
            "  its CPU time in this process (floor: the bare loop's; the registry's not counted)",
            cpu_rate,
            "domains/s",
            floor_cpu_rate,
            "(reported)",
            None,
        ),
        Figure(
            f"  the same bare frames over {sessions} sessions at once, as the run used",
            (n - 1) / parallel,
            "domains/s",
            floor_rate,
            "(reported; floor: one session)",
            None,
        ),
        Figure(
            f"{per_thread * pool.max_sessions:,} availability checks through the pool "
            f"({pool.max_sessions} sessions)",
            check_rate,
            "checks/s",
            checks / check_floor,
            "(reported; floor: one bare session)",
            None,
        ),
    ]
