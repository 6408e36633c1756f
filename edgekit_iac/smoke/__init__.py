"""`edgekit smoke`: request each public endpoint of a stack and check the answers.

`cli` (the command), `targets` (where the endpoints are), `checks` (what each check asserts).
"""
