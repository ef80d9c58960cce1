"""The generated ruleset in a real kernel: nft checks it, and in network namespaces
joined by a veth pair it closes a site's admin port to every address not on its list.

The export's file holds the sets and the chain of the sites' admin ports
(`Site.admin_port`) in one table: the test loads that file alone, exactly as the
node's `KLUIS_FIREWALL_RELOAD="nft -f …/kluis-allowlist.nft"` does.

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

from kluis.sites import firewall
from kluis.sites.firewall import NFT_FILE, firewall_export
from kluis.sites.models import Site
from kluis.sites.services import entry_add, entry_remove
from kluis.sites.shop_link import site_set_status
from kluis.sites.testing import make_entry, make_node, make_site

pytestmark = pytest.mark.django_db(databases="__all__")

NFT = shutil.which("nft") or ("/usr/sbin/nft" if Path("/usr/sbin/nft").exists() else None)
IP = shutil.which("ip") or ("/usr/sbin/ip" if Path("/usr/sbin/ip").exists() else None)
IN_CI = os.environ.get("CI", "") in {"true", "1"}

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


def _port(site: Site, port: int | None) -> None:
    site.admin_port = port
    site.save(update_fields=["admin_port"])


def _load(namespaces: Namespaces, ruleset: Path) -> str:
    """The node's reload command: the export's file alone, in the server's namespace."""
    return f"{IP} netns exec {namespaces.server} {NFT} -f {ruleset}"


def test_nft_checks_the_ruleset_with_its_chain(personas, firewall_dir):
    if NFT is None:
        _needs("no nft here (Debian: apt-get install nftables)")
    if os.geteuid() != 0:
        _needs("nft -c needs root (CAP_NET_ADMIN)")
    site = make_site(personas.customer_a)
    make_entry(site, personas.alice, "145.100.10.0/24")
    make_entry(site, personas.alice, "145.100.10.7")  # merged into the /24
    make_entry(site, personas.alice, "2a00:1450:4000::/48")
    empty = make_site(personas.customer_b)  # empty sets
    ruleset = firewall_dir / NFT_FILE
    firewall_export()
    assert "chain" not in ruleset.read_text()  # no site has a port: sets only
    alone = subprocess.run([str(NFT), "-c", "-f", str(ruleset)], capture_output=True)
    assert alone.returncode == 0, alone.stderr
    _port(site, PORT_A)
    _port(empty, PORT_B)
    assert firewall_export().written == 1  # the port is an input: the ruleset is rewritten
    text = ruleset.read_text()
    assert f"\t\ttcp dport {PORT_A} ip saddr @site_{site.pk}_v4 accept\n" in text
    assert f"\t\ttcp dport {PORT_B} drop\n" in text
    checked = subprocess.run([str(NFT), "-c", "-f", str(ruleset)], capture_output=True)
    assert checked.returncode == 0, checked.stderr
    # The node's boot file is the include alone, and loads the same.
    deploy = Path(settings.BASE_DIR) / "deploy" / "nftables-kluis-admin.nft"
    rules = [line for line in deploy.read_text().splitlines() if not line.startswith("#")]
    assert rules == ['include "/var/lib/kluis/allowlists/kluis-allowlist.nft"']
    node = firewall_dir.parent / "kluis-admin.nft"
    node.write_text(deploy.read_text().replace("/var/lib/kluis/allowlists", str(firewall_dir)))
    booted = subprocess.run([str(NFT), "-c", "-f", str(node)], capture_output=True)
    assert booted.returncode == 0, booted.stderr
    # nft checks what the chain names: a rule on a set that is not there is refused.
    wrong = firewall_dir.parent / "wrong.nft"
    wrong.write_text(text.replace(f"@site_{site.pk}_v4", "@site_999999_v4"))
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

    monkeypatch.setattr(
        settings, "KLUIS_FIREWALL_RELOAD", _load(namespaces, firewall_dir / NFT_FILE)
    )
    # Sites without a port get no rule: the sets alone close nothing.
    assert firewall_export().reload == "reload ok"
    assert all(namespaces.connects(attempts).values())

    _port(site_a, PORT_A)
    _port(site_b, PORT_B)
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

    # Suspended: its sets empty, its port keeps the drop, so nobody reaches it.
    site_set_status(site_b, Site.Status.SUSPENDED, actor="test")
    assert firewall_export(now=now + dt.timedelta(hours=2)).reload == "reload ok"
    assert namespaces.connects([(OTHER_V4, PORT_B)]) == {(OTHER_V4, PORT_B): False}


def test_a_ruleset_nft_refuses_keeps_the_last_one_in_force(
    personas, firewall_dir, namespaces, monkeypatch
):
    site = make_site(personas.customer_a)
    _port(site, PORT_A)
    make_entry(site, personas.alice, ALLOWED_V4)
    monkeypatch.setattr(
        settings, "KLUIS_FIREWALL_RELOAD", _load(namespaces, firewall_dir / NFT_FILE)
    )
    assert firewall_export().reload == "reload ok"
    # A ruleset whose chain names a set that is not there: the whole load is refused.
    render = firewall.render_nft

    def broken(*args: object, **kwargs: object) -> bytes:
        return render(*args, **kwargs).replace(b"@site_", b"@site_9")

    monkeypatch.setattr(firewall, "render_nft", broken)
    make_entry(site, personas.alice, OTHER_V4)
    outcome = firewall_export()
    assert not outcome.ok and outcome.reload.startswith("reload failed")
    assert namespaces.connects([(ALLOWED_V4, PORT_A), (OTHER_V4, PORT_A)]) == {
        (ALLOWED_V4, PORT_A): True,
        (OTHER_V4, PORT_A): False,
    }


def test_each_node_loads_its_own_ruleset_and_two_nodes_share_a_port(
    personas, firewall_dir, namespaces
):
    """Site A on web01 and site B on web02 both have PORT_A: each node's ruleset (nft -c
    checked) closes the port to everyone but its own site's list; B's list never opens
    A's admin, and PORT_B, which no site of either node has, stays open."""
    web01, web02 = make_node("web01", 8000, 9000), make_node("web02", 8000, 9000)
    site_a, site_b = make_site(personas.customer_a), make_site(personas.customer_b)
    for site, node in ((site_a, web01), (site_b, web02)):
        site.node, site.admin_port = node, PORT_A
        site.save(update_fields=["node", "admin_port"])
    make_entry(site_a, personas.alice, ALLOWED_V4)
    make_entry(site_b, personas.bob, OTHER_V4)
    firewall_export()
    attempts = [(a, p) for a in (ALLOWED_V4, OTHER_V4) for p in (PORT_A, PORT_B)]
    for name, allowed, refused in (
        ("web01", ALLOWED_V4, OTHER_V4),
        ("web02", OTHER_V4, ALLOWED_V4),
    ):
        ruleset = firewall_dir / "nodes" / name / NFT_FILE
        checked = subprocess.run([str(NFT), "-c", "-f", str(ruleset)], capture_output=True)
        assert checked.returncode == 0, checked.stderr
        _run(*_load(namespaces, ruleset).split())
        assert namespaces.connects(attempts) == {
            (allowed, PORT_A): True,
            (refused, PORT_A): False,
            (allowed, PORT_B): True,
            (refused, PORT_B): True,
        }


def test_the_machine_loading_the_top_directory_keeps_a_placed_sites_port_closed(
    personas, firewall_dir, namespaces, monkeypatch
):
    """The server namespace is the machine that still loads the top directory while its
    sites are placed on its node (being switched over): after every export it reloads the
    top ruleset, and site A's port stays closed to every address but A's list; once the
    switch is confirmed, the node's own ruleset closes it there."""
    from kluis.sites.firewall import export_requests_handle
    from kluis.sites.models import HostingNode
    from kluis.sites.nodes import node_save, node_switched, site_node_set, site_port_set

    site = make_site(personas.customer_a)
    site_port_set(site, PORT_A, actor="test")
    make_entry(site, personas.alice, ALLOWED_V4)
    top = firewall_dir / NFT_FILE
    monkeypatch.setattr(settings, "KLUIS_FIREWALL_RELOAD", _load(namespaces, top))
    attempts = [(a, p) for a in (ALLOWED_V4, OTHER_V4, ALLOWED_V6) for p in (PORT_A, PORT_B)]
    expected = {
        (ALLOWED_V4, PORT_A): True,
        (OTHER_V4, PORT_A): False,
        (ALLOWED_V6, PORT_A): False,
        (ALLOWED_V4, PORT_B): True,  # no site's port: open
        (OTHER_V4, PORT_B): True,
        (ALLOWED_V6, PORT_B): True,
    }
    assert firewall_export().reload == "reload ok"
    assert namespaces.connects(attempts) == expected
    web01 = HostingNode(name="web01", port_first=8400, port_last=8499, switching=True)
    node_save(web01)
    assert site_node_set(site, web01, actor="test") == (PORT_A, PORT_A)
    assert export_requests_handle() >= 1
    assert namespaces.connects(attempts) == expected  # placed: still closed on the top
    make_entry(site, personas.alice, ALLOWED_V6)
    assert export_requests_handle() >= 1  # the site's own export, both directories
    assert namespaces.connects(attempts) == {**expected, (ALLOWED_V6, PORT_A): True}
    # Switched: the machine loads nodes/web01/ now, and that ruleset closes the port.
    node_switched(web01, actor="test")
    own = firewall_dir / "nodes" / "web01" / NFT_FILE
    monkeypatch.setattr(settings, "KLUIS_FIREWALL_RELOAD", _load(namespaces, own))
    assert export_requests_handle() >= 1
    checked = subprocess.run([str(NFT), "-c", "-f", str(own)], capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert namespaces.connects(attempts) == {**expected, (ALLOWED_V6, PORT_A): True}
