"""A small EPP client (RFC 5730 to 5734) and the pieces it is built from.

framing: the 4-byte length frames of RFC 5734 with a size limit per frame;
xml: the vendored schemas, validation and the hardened parser;
commands: every command as an lxml tree; responses: typed answers;
client: one logged-in session; pool: sessions within a registry's limit.
"""
