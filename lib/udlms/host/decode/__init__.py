"""The trace decoder behind ``udlms decode`` (PC only): ``main`` (the dispatcher:
``decode_text``, ``explain_text``, ``Decoder``) over ``line`` (input formats), ``hdlc``
(IEC 62056-46), ``mbus``, ``apdu`` (dispatch), ``acse``, ``xdlms``, ``cipher``, ``gbt``,
``notify``, ``obis`` and ``base`` (shared helpers). Kept empty so that importing one part
does not load the dispatcher."""
