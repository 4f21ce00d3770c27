"""Names the standard gives to APDU tags and service errors (IEC 62056-5-3 §8): the
protocol's vocabulary, used by the cosem layer's own error messages and by
:mod:`udlms.results`, which adds the plain words and hints. Loaded only when a name is
wanted (tables are single strings: on MicroPython a fraction of the RAM of tuples)."""


def _text(table):
    """A record table as text. In the device build (tools/build/msgtable.py) a table is the
    offset of its line in udlms/messages.txt (records split by \\x1e there), read only when
    a name is wanted."""
    if isinstance(table, str):
        return table
    from udlms.errors import _text

    return _text(table).replace("\x1e", "\n")


def _row(table, key):
    """Fields of the record whose first field(s) equal ``key`` (e.g. 12 or "0|6"); the
    record tables here and in :mod:`udlms.results` are single strings, one record a line."""
    table = _text(table)
    k = "%s|" % (key,)
    if table.startswith(k):
        i = 0
    else:
        i = table.find("\n" + k) + 1
        if i == 0:
            return None
    return table[i:table.find("\n", i)].split("|")


# base names; glo- (+0x08 / +0x20) and ded- (+0x10 / +0x40) tags are derived from them
_NAMES = ("01 initiate-request 05 read-request 06 write-request 08 initiate-response "
          "0C read-response 0D write-response 0E confirmed-service-error 0F data-notification "
          "16 unconfirmed-write-request 18 information-report-request 60 AARQ 61 AARE 62 RLRQ "
          "63 RLRE C0 get-request C1 set-request C2 event-notification-request "
          "C3 action-request C4 get-response C5 set-response C7 action-response "
          "D8 exception-response D9 access-request DA access-response "
          "DB general-glo-ciphering DC general-ded-ciphering DD general-ciphering "
          "DF general-signing E0 general-block-transfer")


def _base_name(tag):
    w = _text(_NAMES).split()
    for i in range(0, len(w), 2):
        if int(w[i], 16) == tag:
            return w[i + 1]
    return None


def apdu_name(tag):
    """Name of an APDU tag byte, e.g. 0xCB -> "glo-action-request" (IEC 62056-5-3 §8)."""
    n = _base_name(tag)
    if n is None:
        base = None
        if 0xC8 <= tag <= 0xCF:
            pre, base = "glo-", tag - 8
        elif 0xD0 <= tag <= 0xD7:
            pre, base = "ded-", tag - 0x10
        elif 0x21 <= tag <= 0x3F:
            pre, base = "glo-", tag - 0x20
        elif 0x41 <= tag <= 0x5F:
            pre, base = "ded-", tag - 0x40
        if base is not None:
            n = _base_name(base)
            if n is not None:
                return pre + n
        return "unknown APDU 0x%02X" % tag
    return n


_CSE_SERVICES = (
    '1|initiate\n'
    '2|get-status\n'
    '3|get-name-list\n'
    '4|get-variable-attribute\n'
    '5|read\n'
    '6|write\n'
    '7|get-data-set-attribute\n'
    '8|get-ti-attribute\n'
    '9|change-scope\n'
    '10|start\n'
    '11|stop\n'
    '12|resume\n'
    '13|make-usable\n'
    '14|initiate-load\n'
    '15|load-segment\n'
    '16|terminate-load\n'
    '17|initiate-upload\n'
    '18|upload-segment\n'
    '19|terminate-upload\n'
)
_CSE_CHOICES = (
    "0|application-reference|other time-elapsed application-unreachable"
    " application-reference-invalid application-context-unsupported"
    " provider-communication-error deciphering-error\n"
    "1|hardware-resource|other memory-unavailable processor-resource-unavailable"
    " mass-storage-unavailable other-resource-unavailable\n"
    '2|vde-state-error|other no-dlms-context loading-data-set status-nochange status-inoperable\n'
    '3|service|other pdu-size service-unsupported\n'
    '4|definition|other object-undefined object-class-inconsistent object-attribute-inconsistent\n'
    "5|access|other scope-of-access-violated object-access-violated hardware-fault"
    " object-unavailable\n"
    "6|initiate|other dlms-version-too-low incompatible-conformance pdu-size-too-short"
    " refused-by-the-VDE-Handler\n"
    "7|load-data-set|other primitive-out-of-sequence not-loadable dataset-size-too-large"
    " not-awaited-segment interpretation-failure storage-failure data-set-not-ready\n"
    '8|change-scope|\n'
    '9|task|other no-remote-control ti-stopped ti-running ti-unusable\n'
    '10|other|\n'
)


def service_name(service):
    """ConfirmedServiceError service (1 initiate, 5 read, 6 write, ...) -> its name."""
    r = _row(_CSE_SERVICES, service)
    return r[1] if r else "service-%d" % service


def service_error_name(choice, value):
    """ServiceError CHOICE -> "application-reference deciphering-error"."""
    r = _row(_CSE_CHOICES, choice)
    if r is None:
        return "service-error-%d %d" % (choice, value)
    names = r[2].split()
    return "%s %s" % (r[1], names[value] if 0 <= value < len(names) else "%d" % value)
