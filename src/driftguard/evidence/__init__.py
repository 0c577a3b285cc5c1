"""The evidence pack: what an examiner reads about one model version, in one file.

A pack is a list of **sections**, each the plain JSON of one part of the record (the model and
version, the policy in force, the MRI, monitoring over time, deployments, the audit trail), and a
**manifest** holding the SHA-256 of each section's canonical JSON, the audit chain head at export,
who exported it and when. ``format=json`` is the pack itself; HTML (one self-contained file) and
PDF (the same HTML, rendered by WeasyPrint) draw the same sections for people.

Sections are a registry (:data:`driftguard.evidence.sections.SECTIONS`): a section is one builder
function and one template, appended to the list. Above ``governance/`` (it reads its records),
below ``jobs/`` and the entry points; it never reads the dashboard's cached aggregates.
"""
