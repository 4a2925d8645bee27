// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// Where each orchestrator is reached: its service URI. The AI subnet's registry is a second
/// instance of this contract.
contract ServiceRegistry {
    mapping(address => string) private serviceURIs;

    event ServiceURIUpdate(address indexed addr, string serviceURI);

    function setServiceURI(string calldata serviceURI) external {
        serviceURIs[msg.sender] = serviceURI;
        emit ServiceURIUpdate(msg.sender, serviceURI);
    }

    function getServiceURI(address addr) external view returns (string memory) {
        return serviceURIs[addr];
    }
}
