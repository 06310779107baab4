"""The pure domain core of the payment service: no I/O, no framework imports.

Modules:
- ``payment``: the ``Payment`` aggregate, its statuses and the transitions between them, and
  the events they cause.
- ``loans``: what payment_service knows of a loan and of what the loan service did.
- ``errors``: typed domain errors carrying a stable machine ``reason``.
- ``money``: strict amount parsing, ISO 4217 minor units, minor-unit conversions.
- ``ledger``: chart of accounts, journal entries, reversals, trial balance, ledgers, statements.
- ``postings``: builders of the balanced entries for each money movement (cash or accrual).
- ``mobile_money``: the inbound paybill callback, its signature check and loan matching.
- ``idempotency``: request fingerprints and the replay / in-progress / conflict decision.
"""
