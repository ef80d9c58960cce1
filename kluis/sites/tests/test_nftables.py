"""The generated ruleset in a real kernel: nft checks it, and in network namespaces
joined by a veth pair it closes a site's admin port to every address not on its list.

The export's file holds the sets alone; the hosting node's rules that use them come
from `deploy/nftables-kluis-admin.nft`, which includes the file and adds its chain to
the same table in one `nft -f`. The test loads that file, filled in for two sites,
exactly as the node's `KLUIS_FIREWALL_RELOAD` does.

Needs root, iproute2 and Debian's nftables (`make browser` installs it); elsewhere
the tests skip and say why, except under CI (CI=true), where they must run.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from kluis.sites.firewall import NFT_FILE, firewall_export
from kluis.sites.services import entry_add, entry_remove
from kluis.sites.testing import make_entry, make_site

pytestmark = pytest.mark.django_db(databases="__all__")

NFT = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
IP = shutil.which("ip") or ("/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else None)
IN_CI = os.environ.get("CI", "") in {"true", "1"}
DEPLOY = Path(settings.BASE_DIR) / "deploy" / "nftables-kluis-admin.nft"

# The server's side of the veth pair and the clients' addresses (public space, as the
# allowlist takes no other; the namespaces reach nothing outside themselves).
SERVER_V4, SERVER_V6 = "145.100.99.1", "2a00:1450:4000:99::1"
ALLOWED_V4, ALLOWED_V6 = "145.100.99.7", "2a00:1450:4000:99::7"
OTHER_V4, OTHER_V6 = "145.100.99.8", "2a00:1450:4000:99::8"
PORT_A, PORT_B = 8443, 8444

# Listens on both admin ports (IPv4 and IPv6) and answers "ok" to each connection.
SERVER = """
import socket, sys, threading
def serve(port):
    listener = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
    ready.append(port)
    if len(ready) == len(ports):
        print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        conn.sendall(b"ok")
        conn.close()
ports = [int(p) for p in sys.argv[1:]]
ready = []
threads = [threading.Thread(target=serve, args=(p,), daemon=True) for p in ports]
for t in threads: t.start()
for t in threads: t.join()
"""

# Tries each "source,destination,port" at once; prints "source port ok" or "... no".
CLIENT = """
import socket, sys, threading
def attempt(source, target, port):
    family = socket.AF_INET6 if ":" in target else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(float(sys.argv[1]))
            sock.bind((source, 0))
            sock.connect((target, int(port)))
            result = "ok" if sock.recv(2) == b"ok" else "no"
    except OSError:
        result = "no"
    results.append(f"{source} {port} {result}")
results = []
threads = [threading.Thread(target=attempt, args=a.split(",")) for a in sys.argv[2:]]
for t in threads: t.start()
for t in threads: t.join()
print("\\n".join(results))
"""


def _needs(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} under CI: the nftables tests must run (`make browser`)")
    pytest.skip(what)


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


@dataclass
class Namespaces:
    server: str
    client: str

    def connects(self, attempts: list[tuple[str, int]]) -> dict[tuple[str, int], bool]:
        """Whether each (client address, port) reaches the server's admin port."""
        args = []
        for address, admin_port in attempts:
            target = SERVER_V6 if ":" in address else SERVER_V4
            args.append(f"{address},{target},{admin_port}")
        done = subprocess.run(
            [str(IP), "netns", "exec", self.client, sys.executable, "-c", CLIENT, "3", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        found = {}
        for line in done.stdout.splitlines():
            source, port, result = line.split()
            found[(source, int(port))] = result == "ok"
        assert len(found) == len(attempts), done.stdout + done.stderr
        return found


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    """A server and a client namespace joined by a veth pair, names unique to the test
    (the suite runs on several workers); the server listening on both admin ports."""
    if NFT is None:
        _needs("no nft here (Debian: apt-get install nftables)")
    if IP is None:
        _needs("no ip here (Debian: apt-get install iproute2)")
    if os.geteuid() != 0:
        _needs("network namespaces need root")
    tag = secrets.token_hex(3)
    made = Namespaces(server=f"kls{tag}", client=f"klc{tag}")
    server = None
    try:
        try:
            _run(str(IP), "netns", "add", made.server)
        except subprocess.CalledProcessError as exc:
            _needs(f"ip netns add failed here: {exc.stderr.decode().strip()}")
        _run(str(IP), "netns", "add", made.client)
        s_if, c_if = f"kls{tag}s", f"kls{tag}c"
        _run(str(IP), "link", "add", s_if, "type", "veth", "peer", "name", c_if)
        _run(str(IP), "link", "set", s_if, "netns", made.server)
        _run(str(IP), "link", "set", c_if, "netns", made.client)
        for ns, name, addresses in (
            (made.server, s_if, [f"{SERVER_V4}/24", f"{SERVER_V6}/64"]),
            (
                made.client,
                c_if,
                [f"{ALLOWED_V4}/24", f"{OTHER_V4}/24", f"{ALLOWED_V6}/64", f"{OTHER_V6}/64"],
            ),
        ):
            for address in addresses:
                extra = ["nodad"] if ":" in address else []  # usable at once
                _run(str(IP), "-n", ns, "addr", "add", address, "dev", name, *extra)
            _run(str(IP), "-n", ns, "link", "set", name, "up")
            _run(str(IP), "-n", ns, "link", "set", "lo", "up")
        command = [str(IP), "netns", "exec", made.server, sys.executable, "-c", SERVER]
        server = subprocess.Popen(
            [*command, str(PORT_A), str(PORT_B)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        yield made
    finally:
        if server is not None:
            server.kill()
            server.wait(timeout=10)
        for ns in (made.server, made.client):  # deleting a namespace deletes its veth end
            subprocess.run([str(IP), "netns", "delete", ns], capture_output=True, check=False)


def _node_ruleset(root: Path, sites: dict[int, int]) -> Path:
    """deploy/nftables-kluis-admin.nft as a node fills it in: the export's directory,
    and the block of rules once per (site id, admin port)."""
    template = DEPLOY.read_text().replace("/var/lib/kluis/allowlists", str(root))
    head, chain_start, rest = template.partition("\t\ttcp dport ADMIN_PORT ip saddr")
    block, _, tail = (chain_start + rest).partition("\t}\n}\n")
    rules = "".join(
        block.replace("SITE_ID", str(site_id)).replace("ADMIN_PORT", str(port))
        for site_id, port in sites.items()
    )
    path = root.parent / "kluis-admin.nft"
    path.write_text(head + rules + "\t}\n}\n" + tail)
    return path


def test_nft_checks_the_ruleset_with_the_node_rules(personas, firewall_dir):
    if NFT is None:
        _needs("no nft here (Debian: apt-get install nftables)")
    if os.geteuid() != 0:
        _needs("nft -c needs root (CAP_NET_ADMIN)")
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, "145.100.10.0/24")
    make_entry(site, personas.alice, "145.100.10.7")  # merged into the /24
    make_entry(site, personas.alice, "2a00:1450:4000::/48")
    make_site(personas.customer_b)  # empty sets
    firewall_export()
    ruleset = str(firewall_dir / NFT_FILE)
    alone = subprocess.run([str(NFT), "-c", "-f", ruleset], capture_output=True)
    assert alone.returncode == 0, alone.stderr
    node = _node_ruleset(firewall_dir, {site.pk: PORT_A})
    rules = [line for line in node.read_text().splitlines() if not line.startswith("#")]
    assert not [line for line in rules if "ADMIN_PORT" in line or "SITE_ID" in line]
    both = subprocess.run([str(NFT), "-c", "-f", str(node)], capture_output=True)
    assert both.returncode == 0, both.stderr
    # A rule naming a site kluis does not export is refused: nft checks the references.
    wrong = _node_ruleset(firewall_dir, {999_999: PORT_A})
    assert subprocess.run([str(NFT), "-c", "-f", str(wrong)], capture_output=True).returncode != 0


def test_only_allowlisted_addresses_reach_the_admin_port(
    personas, firewall_dir, namespaces, monkeypatch
):
    site_a = make_site(personas.customer_a)
    site_b = make_site(personas.customer_b)
    now = timezone.now()
    entry_v4 = make_entry(site_a, personas.alice, ALLOWED_V4)
    entry_add(
        site=site_a,
        text=ALLOWED_V6,
        label="thuis",
        expires_at=now + dt.timedelta(hours=1),
        by=personas.alice,
    )
    make_entry(site_b, personas.bob, OTHER_V4)
    clients = (ALLOWED_V4, OTHER_V4, ALLOWED_V6, OTHER_V6)
    attempts = [(a, p) for a in clients for p in (PORT_A, PORT_B)]

    # Without a ruleset every address reaches both ports: what follows is the firewall.
    assert all(namespaces.connects(attempts).values())

    node = _node_ruleset(firewall_dir, {site_a.pk: PORT_A, site_b.pk: PORT_B})
    reload = f"{IP} netns exec {namespaces.server} {NFT} -f {node}"
    monkeypatch.setattr(settings, "KLUIS_FIREWALL_RELOAD", reload)
    outcome = firewall_export()
    assert outcome.ok and outcome.reload == "reload ok"
    assert namespaces.connects(attempts) == {
        (ALLOWED_V4, PORT_A): True,  # on site A's list
        (ALLOWED_V6, PORT_A): True,
        (OTHER_V4, PORT_A): False,
        (OTHER_V6, PORT_A): False,
        (OTHER_V4, PORT_B): True,  # on site B's list, not A's
        (ALLOWED_V4, PORT_B): False,
        (ALLOWED_V6, PORT_B): False,
        (OTHER_V6, PORT_B): False,
    }

    # Removed: the next export reloads and the address is closed out; IPv6 still in.
    entry_remove(entry=entry_v4, by=personas.alice)
    assert firewall_export(now=now).reload == "reload ok"
    after = namespaces.connects([(ALLOWED_V4, PORT_A), (ALLOWED_V6, PORT_A)])
    assert after == {(ALLOWED_V4, PORT_A): False, (ALLOWED_V6, PORT_A): True}

    # Expired: an export after the end leaves it out by itself.
    assert firewall_export(now=now + dt.timedelta(hours=2)).reload == "reload ok"
    assert namespaces.connects([(ALLOWED_V6, PORT_A), (OTHER_V4, PORT_B)]) == {
        (ALLOWED_V6, PORT_A): False,
        (OTHER_V4, PORT_B): True,
    }


def test_a_ruleset_nft_refuses_keeps_the_last_one_in_force(
    personas, firewall_dir, namespaces, monkeypatch
):
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, ALLOWED_V4)
    node = _node_ruleset(firewall_dir, {site.pk: PORT_A})
    reload = f"{IP} netns exec {namespaces.server} {NFT} -f {node}"
    monkeypatch.setattr(settings, "KLUIS_FIREWALL_RELOAD", reload)
    assert firewall_export().reload == "reload ok"
    # The node's rules name a site that is not exported: the whole load is refused.
    node.write_text(node.read_text().replace(f"@site_{site.pk}_v4", "@site_999999_v4"))
    make_entry(site, personas.alice, OTHER_V4)
    outcome = firewall_export()
    assert not outcome.ok and outcome.reload.startswith("reload failed")
    assert namespaces.connects([(ALLOWED_V4, PORT_A), (OTHER_V4, PORT_A)]) == {
        (ALLOWED_V4, PORT_A): True,
        (OTHER_V4, PORT_A): False,
    }
