"""The portfolio at a glance: aggregate reads over the registry and monitoring, cached per
visibility scope. Governance adds its sections here (see ``service.executive``)."""
