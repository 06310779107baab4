"""Test scaffolding shared by the tiers (one place, not a copy per test file).

- waiting: `eventually` (sync polling) and `wait_until` (async polling);
- rpc: gRPC bearer metadata (`md`) and the error a call fails with (`fails`, `rpc_error`);
- staff: logins through the gateway and an institution with staff of every role (e2e);
- console: driving the staff console in a browser (e2e);
- auth_fleet, loan_world, payment_world, scoring_env: each service started in-process on the
  real servers, with its fakes and builders (integration; the fixtures are in the conftest.py
  of each folder under tests/integration);
- deploy: the deployment files and their validators (integration);
- loan_products, errors: builders and helpers for the unit tests.
"""
