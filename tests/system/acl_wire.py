"""Raw Kafka wire for the ACL system tests: CreateAcls, DescribeAcls and DeleteAcls v1
(non-flexible) and a SASL/PLAIN login, on kafka_wire's connection.

Codes are Kafka's: resource types TOPIC 2, GROUP 3, CLUSTER 4, TRANSACTIONAL_ID 5; pattern types
ANY 1, MATCH 2, LITERAL 3, PREFIXED 4; operations ANY 1, ALL 2, READ 3, WRITE 4, CREATE 5,
DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
IDEMPOTENT_WRITE 12; permissions ANY 1, DENY 2, ALLOW 3.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kafka_wire as kw  # noqa: E402
from kafka_wire import i8, string, array, frame, header_v1, Reader  # noqa: E402
from test_sasl_plain import handshake, authenticate, plain_token  # noqa: E402

DESCRIBE_ACLS, CREATE_ACLS, DELETE_ACLS = 29, 30, 31

TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID = 2, 3, 4, 5
ANY_TYPE = 1
ANY_PATTERN, MATCH, LITERAL, PREFIXED = 1, 2, 3, 4
ANY_OP, ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE = 1, 2, 3, 4, 5, 6, 7, 8
CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE = 9, 10, 11, 12
ANY_PERMISSION, DENY, ALLOW = 1, 2, 3

NONE = 0
TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
INVALID_REQUEST = 42
SECURITY_DISABLED = 54

CLUSTER_NAME = "kafka-cluster"


def acl(resource_type, name, operation, principal, permission=ALLOW, pattern=LITERAL, host="*"):
    """One binding as a tuple (the order of CreateAcls v1's fields)."""
    return (resource_type, name, pattern, principal, host, operation, permission)


def create_acls_v1(corr, bindings):
    def one(b):
        t, name, pattern, principal, host, op, perm = b
        return i8(t) + string(name) + i8(pattern) + string(principal) + string(host) + i8(op) + i8(perm)
    return frame(header_v1(CREATE_ACLS, 1, corr) + array(bindings, one))


def parse_create_acls_v1(body):
    """-> [(error_code, error_message)] per creation."""
    r = Reader(body)
    r.i32()
    out = r.array(lambda r: (r.i16(), r.string()))
    assert r.done(), "trailing bytes after CreateAcls v1"
    return out


def _filter(f):
    t, name, pattern, principal, host, op, perm = f
    return i8(t) + string(name) + i8(pattern) + string(principal) + string(host) + i8(op) + i8(perm)


def acl_filter(resource_type=ANY_TYPE, name=None, pattern=ANY_PATTERN, principal=None, host=None,
               operation=ANY_OP, permission=ANY_PERMISSION):
    return (resource_type, name, pattern, principal, host, operation, permission)


def describe_acls_v1(corr, f):
    return frame(header_v1(DESCRIBE_ACLS, 1, corr) + _filter(f))


def parse_describe_acls_v1(body):
    """-> (error_code, error_message, [binding tuples as acl() makes them])."""
    r = Reader(body)
    r.i32()
    err, msg = r.i16(), r.string()
    out = []
    for t, name, pattern, acls in r.array(
            lambda r: (r.i8(), r.string(), r.i8(),
                       r.array(lambda r: (r.string(), r.string(), r.i8(), r.i8())))):
        for principal, host, op, perm in acls:
            out.append((t, name, pattern, principal, host, op, perm))
    assert r.done(), "trailing bytes after DescribeAcls v1"
    return err, msg, out


def delete_acls_v1(corr, filters):
    return frame(header_v1(DELETE_ACLS, 1, corr) + array(filters, _filter))


def parse_delete_acls_v1(body):
    """-> [(error_code, error_message, [matched binding tuples])] per filter."""
    r = Reader(body)
    r.i32()

    def matching(r):
        r.i16(), r.string()
        t, name, pattern = r.i8(), r.string(), r.i8()
        return (t, name, pattern, r.string(), r.string(), r.i8(), r.i8())
    out = r.array(lambda r: (r.i16(), r.string(), r.array(matching)))
    assert r.done(), "trailing bytes after DeleteAcls v1"
    return out


class AclConnection(kw.Connection):
    def create_acls(self, bindings):
        corr = self.next_corr()
        return parse_create_acls_v1(self.round_trip(create_acls_v1(corr, bindings), corr,
                                                     "CreateAcls v1"))

    def describe_acls(self, f=None):
        corr = self.next_corr()
        return parse_describe_acls_v1(self.round_trip(describe_acls_v1(corr, f or acl_filter()),
                                                      corr, "DescribeAcls v1"))

    def delete_acls(self, filters):
        corr = self.next_corr()
        return parse_delete_acls_v1(self.round_trip(delete_acls_v1(corr, filters), corr,
                                                    "DeleteAcls v1"))

    def login(self, user, password):
        """SaslHandshake v1 + SaslAuthenticate v0 with PLAIN; raises unless authenticated."""
        res = handshake(self, 1, "PLAIN", corr=self.next_corr())
        if res is None or res[0] != 0 or "PLAIN" not in res[1]:
            raise AssertionError("SaslHandshake PLAIN refused: %r" % (res,))
        res = authenticate(self, 0, plain_token(user, password), corr=self.next_corr())
        if res is None or res[0] != 0:
            raise AssertionError("login of %s failed: %r" % (user, res))
        return self


class Endpoint:
    def __init__(self, host, port):
        self.host, self.port = host, port


def plain_jaas(**passwords):
    """A PLAIN listener's JAAS config with admin/admin-secret and the users given
    (user=password)."""
    users = {"admin": "admin-secret", **passwords}
    return ('org.apache.kafka.common.security.plain.PlainLoginModule required '
            'username="admin" password="admin-secret" '
            + " ".join('user_%s="%s"' % (u, p) for u, p in users.items()) + ";")


def sasl_endpoint(broker):
    """The SASL_PLAINTEXT listener a started broker logged as ready."""
    m = broker.wait_for_log(r"kaffa ready listener=SASL_PLAINTEXT://([^\s]+):(\d+)")
    return Endpoint(m.group(1), int(m.group(2)))


def connect(endpoint, user=None, password=None):
    """A connection to endpoint (host, port attributes), logged in when a user is given."""
    conn = AclConnection(endpoint.host, endpoint.port)
    if user is not None:
        conn.login(user, password)
    return conn
