"""zoning: school attendance zones (划片) and school districts (学区) for education bureaus."""

__version__ = "0.1.0"
