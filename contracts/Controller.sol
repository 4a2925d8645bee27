// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The registry of the protocol's contracts, by keccak256(contract name), as Livepeer's.
contract Controller {
    struct ContractInfo {
        address contractAddress;
        bytes20 gitCommitHash;
    }

    address public owner;
    mapping(bytes32 => ContractInfo) private registry;

    event SetContractInfo(bytes32 id, address contractAddress, bytes20 gitCommitHash);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    constructor() {
        owner = msg.sender;
    }

    function setContractInfo(bytes32 id, address contractAddress, bytes20 gitCommitHash) external {
        require(msg.sender == owner, "caller must be Controller owner");
        registry[id] = ContractInfo(contractAddress, gitCommitHash);
        emit SetContractInfo(id, contractAddress, gitCommitHash);
    }

    function transferOwnership(address newOwner) external {
        require(msg.sender == owner, "caller must be Controller owner");
        require(newOwner != address(0), "new owner is null address");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function getContractInfo(bytes32 id) external view returns (address, bytes20) {
        ContractInfo storage info = registry[id];
        return (info.contractAddress, info.gitCommitHash);
    }

    function getContract(bytes32 id) external view returns (address) {
        return registry[id].contractAddress;
    }
}
