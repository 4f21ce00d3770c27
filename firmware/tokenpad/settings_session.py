"""What a session takes from config.json (``Config.settings`` and ``Config.context``):
loaded by the action that opens a session and forgotten with it (tokenpad.app._lean), so
neither the idle app nor the validation (tokenpad.settings_check) holds it (issue 26)."""

_MECH = {"hls-gmac": 5, "lls": 1, "none": 0}


def settings(cfg, cls, over):
    """``Config.settings``: the validated values -> udlms.client.session.Settings (or
    ``cls``) with ``over`` applied; raises ConfigError naming every bad field."""
    if cfg.errors:
        from udlms.errors import ConfigError

        raise ConfigError("%s has %d problem(s): %s" % (cfg.source, len(cfg.errors),
                          "; ".join(cfg.errors)), "config")
    if cls is None:
        from udlms.client.session import Settings as cls

    v = cfg.values
    kw = {"client": v["client"], "server_logical": v["server_logical"],
          "server_physical": v["server_physical"], "address_size": v["address_size"],
          "mechanism": _MECH[v["mode"]], "encoding": v["encoding"],
          "timeout_ms": v["timeout_ms"], "retries": v["retries"],
          "max_info_tx": v["max_info"], "max_info_rx": v["max_info"],
          "gateway": v["gateway"], "frame_counter": v["frame_counter"]}
    if v["mode"] == "hls-gmac":
        kw["ek"] = v["ek"]
        kw["ak"] = v["ak"]
        kw["system_title"] = v["system_title"]
    if v["mode"] == "lls":
        kw["password"] = v["password"]
    kw.update(over)
    return cls(**kw)


def context(v):
    """``Config.context`` of the values ``v``: 4 bytes of SHA-256 over the security
    context, as 8 hex digits."""
    from udlms.port import sha256

    text = "|".join(str(v[k]) for k in ("mode", "ek", "ak", "system_title", "password",
                                         "client", "server_logical", "server_physical",
                                         "address_size", "gateway"))
    return sha256(text.upper().encode()).digest()[:4].hex()
