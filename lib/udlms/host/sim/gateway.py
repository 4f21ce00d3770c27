"""The simulated meter's Token Gateway (IC 115, 0.0.19.40.0.255): method 1 ``enter`` and how
the meter answers a token in a form it does not take (``--wrong-form``, ``--store-any-token``:
meters differ, issue 24 case 3)."""

from udlms.client import token as tok
from udlms.cosem import axdr
from udlms.host.sim.data import datetime_now, fault


def enter(assoc, data):
    """Token Gateway method 1 ``enter(octet-string)``."""
    st = assoc.meter.state
    enc = assoc.meter.o.encoding
    st.enter_calls += 1
    if st.enter_calls == assoc.meter.o.lose_enter:
        st.silent = "until-snrm"
    if data is None or data[0] != 0x09:
        return not_this_form(assoc, None)  # not an octet-string
    try:
        value, _ = axdr.decode(bytes(data))
    except Exception:  # noqa: BLE001
        return not_this_form(assoc, None)
    if assoc.meter.o.store_any_token:  # meters differ (issue 24, case 3)
        with st.lock:
            st.enters[bytes(value)] = st.enters.get(bytes(value), 0) + 1
            st.token = bytes(value)
            st.token_time = datetime_now()
            st.token_status = (0, (8, b"\x00"))  # format-ok, and nothing more
        return 0
    digits = decode_token(bytes(value), enc)
    if digits is None:
        return not_this_form(assoc, bytes(value))  # wrong encoding or length
    with st.lock:
        st.enters[digits] = st.enters.get(digits, 0) + 1
        st.token = bytes(value)
        st.token_time = datetime_now()
        if int(digits) >= 1 << 66:
            st.token_status = (4, (8, b"\x80"))  # token format failure
        elif digits in st.accepted:
            st.token_status = (6, (8, b"\x40"))  # validation failure: already used
        else:
            st.accepted.append(digits)
            st.credit += 1
            st.token_status = (3, (8, b"\x00"))  # token execution result OK
    fault(assoc.meter, "enter")
    if st.token_status[0] != 3 and assoc.meter.o.refusal == "action":
        return 250  # other-reason: the why is in token_status
    return 0


def not_this_form(assoc, value):
    """The gateway's answer to a token in a form it does not take (--wrong-form)."""
    st = assoc.meter.state
    how = assoc.meter.o.wrong_form
    if how == "object-class-inconsistent":
        st.token = b""  # a refused enter clears the stored token attribute
        return 9
    if how == "format-failure" and value is not None:
        with st.lock:
            st.token = value
            st.token_time = datetime_now()
            st.token_status = (4, (8, b"\x80"))  # token format failure, for this token
    return 12


def decode_token(raw, enc):
    """The 20 digits a token form carries, or None when ``raw`` is not in form ``enc``."""
    if enc == "any":  # a meter that takes the token in every form
        for e in tok.ENCODINGS:
            d = decode_token(raw, e)
            if d is not None:
                return d
        return None
    if enc == "ascii":
        if len(raw) == 20 and all(0x30 <= c <= 0x39 for c in raw):
            return raw.decode()
    elif enc == "digits":
        if len(raw) == 20 and all(c <= 9 for c in raw):
            return "".join(str(c) for c in raw)
    elif enc == "bcd":
        if len(raw) == 10 and all((c >> 4) <= 9 and (c & 15) <= 9 for c in raw):
            return raw.hex()
    elif enc == "hex":
        if len(raw) == 9:
            return "%020d" % int.from_bytes(raw, "big")
    return None
