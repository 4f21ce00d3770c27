"""Security suite 0: AES port, GCM/GHASH, ciphered APDUs and HLS-GMAC (Green Book 9.2)."""
