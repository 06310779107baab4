"""The pure domain core of the payment service: no I/O, no framework imports.

Modules:
- ``errors``: typed domain errors carrying a stable machine ``reason``.
- ``money``: strict amount parsing, ISO 4217 minor units, minor-unit conversions.
- ``ledger``: chart of accounts, journal entries, reversals, trial balance, ledgers, statements.
- ``postings``: builders of the balanced entries for each money movement (cash or accrual).
- ``mobile_money``: the inbound paybill callback, its signature check and loan matching.
- ``idempotency``: request fingerprints and the replay / in-progress / conflict decision.
"""
