"""Callbacks go to public https addresses only: refused when a webhook is saved and again at
each call, after resolving the name. No test here connects anywhere but 127.0.0.1: the suite's
network guard fails any test that tries, and names resolve from a stub table."""

from __future__ import annotations

import re

import pytest

from giftcards import exceptions
from giftcards.events import egress, webhooks, work
from giftcards.models import Delivery, EventCallback
from tests import network_guard

PUBLIC = "93.184.216.34"


@pytest.fixture
def strict(settings):
    """Production's rule: no loopback receivers."""
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = False
    return settings


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/hooks",
        "http://127.0.0.1:8080/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:10.0.0.1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[fd00:ec2::254]/hooks",
        "https://100.64.0.1/hooks",
        "https://0.0.0.0/hooks",
        "https://[64:ff9b::a00:1]/hooks",
        "https://[2002:a00:1::]/hooks",
        "https://224.0.0.1/hooks",
        "https://[::127.0.0.1]/hooks",
        "https://[64:ff9b:1:a9fe:a9:fe00:808:808]/hooks",
    ],
)
def test_private_loopback_link_local_and_wrapped_addresses_are_refused_at_save(
    tenant, actor, strict, url
):
    with pytest.raises(exceptions.InvalidCallbackUrl):
        webhooks.webhook_create(
            tenant=tenant, actor=actor, topic="gift_cards.create", callback_url=url
        )


def test_a_name_that_resolves_to_a_private_address_is_refused_at_save(tenant, actor, strict):
    private = pytest.raises(exceptions.InvalidCallbackUrl, match=r"10\.1\.2\.3 is a private")
    with network_guard.stub_resolver({"hooks.internal.example": ["10.1.2.3"]}) as asked, private:
        webhooks.webhook_create(
            tenant=tenant,
            actor=actor,
            topic="gift_cards.create",
            callback_url="https://hooks.internal.example/in",
        )
    assert asked == ["hooks.internal.example"]


def test_a_name_with_one_private_address_among_public_ones_is_refused(tenant, actor, strict):
    table = {"mixed.example": [PUBLIC, "169.254.169.254"]}
    with network_guard.stub_resolver(table), pytest.raises(exceptions.InvalidCallbackUrl):
        webhooks.webhook_create(
            tenant=tenant,
            actor=actor,
            topic="gift_cards.create",
            callback_url="https://mixed.example/in",
        )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.example.com/in", "https://"),
        ("ftp://hooks.example.com/in", "https://"),
        ("https://user:pw@hooks.example.com/in", "user name or password"),
        ("https:///in", "names a host"),
        ("https://hooks.example.com/in#frag", "fragment"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://nowhere.example/in", "does not resolve"),
        ("https://hooks.example.com:99999/in", "Not a URL"),
    ],
)
def test_urls_of_the_wrong_form_are_refused_saying_why(tenant, actor, strict, url, says):
    refused = pytest.raises(exceptions.InvalidCallbackUrl, match=re.escape(says))
    with network_guard.stub_resolver({"hooks.example.com": [PUBLIC]}), refused:
        webhooks.webhook_create(
            tenant=tenant, actor=actor, topic="gift_cards.create", callback_url=url
        )


def test_a_public_https_name_is_accepted(tenant, actor, strict):
    with network_guard.stub_resolver({"hooks.example.com": [PUBLIC, "2606:2800:220:1::1"]}):
        hook = webhooks.webhook_create(
            tenant=tenant,
            actor=actor,
            topic="gift_cards.create",
            callback_url="https://hooks.example.com/in?shop=1",
        )
    assert hook.callback_url == "https://hooks.example.com/in?shop=1"


def test_loopback_is_allowed_only_with_the_development_setting(tenant, actor, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    for url in ("http://127.0.0.1:9/x", "https://[::1]:9/x", "http://localhost:9/x"):
        webhooks.webhook_create(
            tenant=tenant, actor=actor, topic="gift_cards.create", callback_url=url
        )
    with pytest.raises(exceptions.InvalidCallbackUrl):  # still nothing private
        webhooks.webhook_create(
            tenant=tenant, actor=actor, topic="gift_cards.create", callback_url="http://10.0.0.1/x"
        )


def test_a_name_that_moves_to_a_private_address_is_refused_at_the_call(
    tenant, actor, make_card, strict
):
    """Saved while it resolved publicly; at the call it resolves to the metadata service:
    refused after resolving, without a connection (the guard would fail the test)."""
    with network_guard.stub_resolver({"hooks.example.com": [PUBLIC]}):
        webhooks.webhook_create(
            tenant=tenant,
            actor=actor,
            topic="gift_cards.create",
            callback_url="https://hooks.example.com/in",
        )
    make_card()
    with network_guard.stub_resolver({"hooks.example.com": ["169.254.169.254"]}) as asked:
        work.drain()
    assert asked == ["hooks.example.com"]
    callback = EventCallback.objects.get()
    assert callback.response_code == ""
    assert callback.response_message.startswith("Refused: hooks.example.com resolves to")
    assert "169.254.169.254 is a link-local address" in callback.response_message
    assert Delivery.objects.get().state == "pending"  # retried: DNS may be fixed


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_loopback_is_refused_at_the_call_once_the_setting_is_off(
    tenant, actor, make_card, settings, address
):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    host = f"[{address}]" if ":" in address else address
    for scheme in ("https", "http"):
        webhooks.webhook_create(
            tenant=tenant,
            actor=actor,
            topic="gift_cards.create",
            callback_url=f"{scheme}://{host}:9/x",
        )
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = False
    make_card()
    work.drain()
    messages = EventCallback.objects.order_by("webhook_id").values_list(
        "response_message", flat=True
    )
    assert [message.split(":")[0] for message in messages] == ["Refused", "Refused"]
    https, http = messages
    assert "is a loopback address" in https
    assert "starts with https://" in http


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        (PUBLIC, True),
        ("2606:2800:220:1::1", True),
        ("::ffff:93.184.216.34", True),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("fe80::1%eth0", False),
        ("::ffff:169.254.169.254", False),
        ("64:ff9b::7f00:1", False),
        ("192.0.2.10", False),
        ("64:ff9b::8.8.8.8", True),
        ("2002:5db8:d822::1", True),
        # IPv4-compatible (::a.b.c.d) and IPv4-translated (::ffff:0:a.b.c.d, SIIT) forms.
        ("::127.0.0.1", False),
        ("::169.254.169.254", False),
        ("::ffff:0:169.254.169.254", False),
        ("::ffff:0:10.0.0.1", False),
        # Local-use NAT64 (RFC 8215): its IPv4 address need not be the last 32 bits (a /48
        # prefix carries 169.254.169.254 in bits 48-87), so it is never public.
        ("64:ff9b:1:a9fe:a9:fe00:808:808", False),
        ("64:ff9b:1::808:808", False),
        ("fec0::1", False),  # site-local, deprecated but still routed on some networks
        ("5f00::1", False),  # outside 2000::/3, the only global unicast space
        ("168.63.129.16", False),  # Azure's WireServer: a public address, inside every VM
        ("::ffff:168.63.129.16", False),
    ],
)
def test_address_rules(address, allowed, strict):
    assert (egress.address_problem(address) is None) is allowed


def test_the_guard_itself_refuses_and_records_a_public_connection():
    import socket

    sock = socket.socket()
    try:
        with pytest.raises(network_guard.OffMachine):
            sock.connect((PUBLIC, 443))
    finally:
        sock.close()
    assert network_guard.attempts == [f"connect to {PUBLIC}"]
    network_guard.attempts.clear()  # expected here; any other test with an attempt fails


def test_the_guard_itself_refuses_datagrams_and_the_other_name_lookups():
    """A datagram (UDP `sendto`: a DNS query, a metrics packet) and the resolver's other
    entry points (`gethostbyname`, `gethostbyname_ex`) are guarded like `connect` and
    `getaddrinfo`."""
    import _socket
    import socket

    # Checked first, so that an unguarded socket module fails here without sending anything.
    assert socket.socket.sendto is not _socket.socket.sendto
    assert socket.gethostbyname is not _socket.gethostbyname
    assert socket.gethostbyname_ex is not _socket.gethostbyname_ex

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(network_guard.OffMachine):
            sock.sendto(b"?", (PUBLIC, 53))
        with pytest.raises(network_guard.OffMachine):
            sock.sendto(b"?", 0, (PUBLIC, 53))
        assert sock.sendto(b"?", ("127.0.0.1", 9)) == 1  # loopback still goes
    finally:
        sock.close()
    for lookup in (socket.gethostbyname, socket.gethostbyname_ex):
        with pytest.raises(network_guard.OffMachine):
            lookup("hooks.example.com")
    assert socket.gethostbyname("127.0.0.1") == "127.0.0.1"
    assert network_guard.attempts == [
        f"connect to {PUBLIC}",
        f"connect to {PUBLIC}",
        "resolve 'hooks.example.com'",
        "resolve 'hooks.example.com'",
    ]
    network_guard.attempts.clear()  # expected here; any other test with an attempt fails


def test_a_call_tries_the_next_address_when_one_does_not_answer(
    tenant, actor, make_card, receiver, loopback_http
):
    """A name whose first address refuses (IPv6 first on a machine without IPv6, a dead
    server behind round-robin DNS) is reached at the next one."""
    table = {"receiver.test": ["127.0.0.2", "127.0.0.1"]}
    with network_guard.stub_resolver(table):
        webhooks.webhook_create(
            tenant=tenant,
            actor=actor,
            topic="gift_cards.create",
            callback_url=f"http://receiver.test:{receiver.port}/hooks",
        )
        make_card()
        work.drain()
    assert EventCallback.objects.get().response_code == "200"
    assert receiver.received[0].headers["Host"] == f"receiver.test:{receiver.port}"


def test_plain_http_is_refused_before_anything_is_resolved(tenant, actor, strict):
    with network_guard.stub_resolver({}) as asked, pytest.raises(exceptions.InvalidCallbackUrl):
        webhooks.webhook_create(
            tenant=tenant,
            actor=actor,
            topic="gift_cards.create",
            callback_url="http://hooks.example.com/in",
        )
    assert asked == []


def test_names_that_never_resolve_do_not_hold_up_other_lookups(strict, settings):
    """A lookup that hangs (a receiver's name server that never answers) is given up after
    WEBHOOK_DNS_TIMEOUT, and however many hang, the next webhook's name still resolves: one
    tenant's dead name servers cannot fail every other tenant's calls (and open their
    circuits)."""
    import socket
    import threading

    settings.WEBHOOK_DNS_TIMEOUT = 0.2
    release = threading.Event()
    with network_guard.stub_resolver({"hooks.example.com": [PUBLIC]}):
        stubbed = socket.getaddrinfo

        def hanging(host, *args, **kwargs):
            if host == "hang.example":
                release.wait(30)
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
            return stubbed(host, *args, **kwargs)

        socket.getaddrinfo = hanging
        try:
            for _ in range(8):
                with pytest.raises(egress.Refused, match="did not resolve within"):
                    egress.check("https://hang.example/in")
            assert egress.check("https://hooks.example.com/in").addresses == (PUBLIC,)
        finally:
            socket.getaddrinfo = stubbed
            release.set()


def test_a_connection_made_as_the_deadline_passes_is_still_cut_off(settings, monkeypatch):
    """The deadline's timer may fire while the connection is being made (a TLS handshake
    that ends just then) and there is no socket yet to close: the call must still end at the
    deadline, not read on, a byte at a time, for as long as the receiver trickles."""
    import socket
    import threading
    import time

    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    settings.WEBHOOK_TIMEOUT = 0.3
    settings.WEBHOOK_CONNECT_TIMEOUT = 0.3
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle():
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
            for _ in range(5000):  # 10 s, a byte at a time (64 KiB: over 2 minutes)
                if stop.wait(0.002):
                    return
                try:
                    conn.sendall(b"x")
                except OSError:
                    return

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    connect = socket.create_connection

    def connected_at_the_deadline(*args, **kwargs):
        sock = connect(*args, **kwargs)
        time.sleep(0.35)  # the handshake ends as the deadline passes
        return sock

    monkeypatch.setattr(socket, "create_connection", connected_at_the_deadline)
    try:
        started = time.monotonic()
        answer = egress.post(f"http://127.0.0.1:{listener.getsockname()[1]}/in", b"{}", {})
        took = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
        server.join(5)
    assert answer.status is None
    assert answer.error == "No complete answer within 0.3 s."
    assert took < 0.8, f"held the worker {took:.1f} s past a 0.3 s deadline"


def _self_signed(tmp_path, name: str):
    """A key and a self-signed certificate for `name`, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.parametrize(("served_for", "status"), [("receiver.test", 200), ("other.test", None)])
def test_an_https_call_verifies_the_certificate_for_the_urls_host(
    settings, monkeypatch, tmp_path, served_for, status
):
    """Over TLS to the checked address, with the URL's host name checked against the
    certificate: a receiver whose certificate is for another name gets no request."""
    import socket
    import ssl
    import threading

    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    settings.WEBHOOK_TIMEOUT = 2
    cert_file, key_file = _self_signed(tmp_path, served_for)
    trusting = ssl.create_default_context(cafile=str(cert_file))
    monkeypatch.setattr(egress, "_tls", lambda: trusting)
    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    requests: list[bytes] = []

    def serve():
        conn, _ = listener.accept()
        try:
            with serving.wrap_socket(conn, server_side=True) as tls:
                request = b""
                while not request.endswith(b"\r\n\r\n{}"):  # all of it, the body too
                    chunk = tls.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                requests.append(request)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:  # the client refused the certificate
            pass

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    port = listener.getsockname()[1]
    try:
        with network_guard.stub_resolver({"receiver.test": ["127.0.0.1"]}):
            answer = egress.post(f"https://receiver.test:{port}/in", b"{}", {})
    finally:
        listener.close()
        server.join(5)
    assert answer.status == status, answer.error
    if status:
        assert answer.body == b"ok"
        assert requests[0].startswith(b"POST /in HTTP/1.1\r\nHost: receiver.test:")
    else:
        assert "CERTIFICATE_VERIFY_FAILED" in answer.error
        assert requests == []
