module ddlproxy/bench/relayload

go 1.19
