"""The SPARQL endpoint, Graph Store and (later) pages: `icgraph.server.app.create_app`, `serve`."""
