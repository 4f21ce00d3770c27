"""Golden files from independent DLMS clients (gurux-dlms, dlms-cosem) and their generators."""
