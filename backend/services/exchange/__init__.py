"""Document exchange with other agencies (issue 17): reading edXML packages in the sandbox (packages),
the agency directory (agencies) and the inbox of documents received (inbound)."""
