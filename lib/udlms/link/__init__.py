"""Link layer: HDLC (IEC 62056-46), the IEC 62056-47 wrapper, mode E (IEC 62056-21), transports."""
