"""Files in and out: tables (CSV/XLSX), the validated district model, errors with file:line:
column, output writers and staging, the hash-chained audit log, the JIT flags, the CJK font.

The bottom room: imports nothing else from ``seats`` (only the package version).
"""
