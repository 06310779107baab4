"""auth_service's domain: staff users, passwords, sessions, MFA, login history, audit log.

Pure Python: no I/O, no grpc, pymongo or fastapi. Time is always passed in (`now`).
"""
