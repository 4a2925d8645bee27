// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import "./Interfaces.sol";

/// Probabilistic micropayments, with the ABI and ticket rules of Livepeer's TicketBroker:
/// senders fund a deposit (pays tickets first) and a reserve (shared by the active set when the
/// deposit runs out); recipients redeem winning tickets, each at most once (usedTickets).
contract TicketBroker is Controlled {
    struct Ticket {
        address recipient;
        address sender;
        uint256 faceValue;
        uint256 winProb;
        uint256 senderNonce;
        bytes32 recipientRandHash;
        bytes auxData; // pad32(creationRound) ‖ creationRoundBlockHash
    }

    struct Sender {
        uint256 deposit;
        uint256 withdrawRound;
    }

    struct ReserveInfo {
        uint256 fundsRemaining;
        uint256 claimedInCurrentRound;
    }

    struct Reserve {
        uint256 funds;
        mapping(uint256 => uint256) claimedForRound;
        mapping(uint256 => mapping(address => uint256)) claimed;
    }

    // NOTE: signatures with s above half the curve order are malleable copies: refused.
    uint256 private constant SECP256K1_HALF_N =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    uint256 public unlockPeriod;
    uint256 public ticketValidityPeriod;
    mapping(address => Sender) private senders;
    mapping(address => Reserve) private reserves;
    mapping(bytes32 => bool) public usedTickets;

    event DepositFunded(address indexed sender, uint256 amount);
    event ReserveFunded(address indexed reserveHolder, uint256 amount);
    event ReserveClaimed(address indexed reserveHolder, address claimant, uint256 amount);
    event WinningTicketRedeemed(
        address indexed sender,
        address indexed recipient,
        uint256 faceValue,
        uint256 winProb,
        uint256 senderNonce,
        uint256 recipientRand,
        bytes auxData
    );
    event WinningTicketTransfer(address indexed sender, address indexed recipient, uint256 amount);
    event Unlock(address indexed sender, uint256 startRound, uint256 endRound);
    event UnlockCancelled(address indexed sender);
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);

    constructor(address controller_, uint256 unlockPeriod_, uint256 ticketValidityPeriod_)
        Controlled(controller_)
    {
        require(ticketValidityPeriod_ > 0, "ticketValidityPeriod must be greater than 0");
        unlockPeriod = unlockPeriod_;
        ticketValidityPeriod = ticketValidityPeriod_;
    }

    // --- funding ------------------------------------------------------------------------

    function fundDeposit() external payable {
        _fundDeposit(msg.value);
    }

    function fundReserve() external payable {
        _fundReserve(msg.value);
    }

    function fundDepositAndReserve(uint256 depositAmount, uint256 reserveAmount) external payable {
        require(
            msg.value == depositAmount + reserveAmount,
            "msg.value does not equal sum of deposit amount and reserve amount"
        );
        _fundDeposit(depositAmount);
        _fundReserve(reserveAmount);
    }

    function unlock() external {
        Sender storage sender = senders[msg.sender];
        require(sender.deposit > 0 || reserves[msg.sender].funds > 0, "sender deposit and reserve are zero");
        require(sender.withdrawRound == 0, "unlock already initiated");
        uint256 round = roundsManager().currentRound();
        sender.withdrawRound = round + unlockPeriod;
        emit Unlock(msg.sender, round, sender.withdrawRound);
    }

    function cancelUnlock() external {
        Sender storage sender = senders[msg.sender];
        require(sender.withdrawRound != 0, "no unlock request in progress");
        sender.withdrawRound = 0;
        emit UnlockCancelled(msg.sender);
    }

    function withdraw() external {
        Sender storage sender = senders[msg.sender];
        Reserve storage reserve = reserves[msg.sender];
        uint256 deposit = sender.deposit;
        uint256 funds = reserve.funds;
        require(deposit > 0 || funds > 0, "sender deposit and reserve are zero");
        require(
            sender.withdrawRound != 0 && sender.withdrawRound <= roundsManager().currentRound(),
            "account is locked"
        );
        sender.deposit = 0;
        sender.withdrawRound = 0;
        reserve.funds = 0;
        emit Withdrawal(msg.sender, deposit, funds);
        (bool ok, ) = msg.sender.call{value: deposit + funds}("");
        require(ok, "withdrawal transfer failed");
    }

    // --- views --------------------------------------------------------------------------

    function getSenderInfo(address addr)
        external
        view
        returns (Sender memory sender, ReserveInfo memory reserve)
    {
        Reserve storage r = reserves[addr];
        uint256 round = roundsManager().currentRound();
        return (senders[addr], ReserveInfo(r.funds, r.claimedForRound[round]));
    }

    function claimedReserve(address reserveHolder, address claimant) external view returns (uint256) {
        return reserves[reserveHolder].claimed[roundsManager().currentRound()][claimant];
    }

    function getTicketHash(Ticket memory ticket) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                ticket.recipient,
                ticket.sender,
                ticket.faceValue,
                ticket.winProb,
                ticket.senderNonce,
                ticket.recipientRandHash,
                ticket.auxData
            )
        );
    }

    // --- redemption ---------------------------------------------------------------------

    function redeemWinningTicket(Ticket memory ticket, bytes memory sig, uint256 recipientRand) public {
        bytes32 ticketHash = getTicketHash(ticket);
        require(ticket.recipient != address(0), "ticket recipient is null address");
        require(ticket.sender != address(0), "ticket sender is null address");
        _requireValidAuxData(ticket.auxData);
        require(!usedTickets[ticketHash], "ticket is used");
        require(
            keccak256(abi.encodePacked(recipientRand)) == ticket.recipientRandHash,
            "recipientRand does not match recipientRandHash"
        );
        require(_signer(ticketHash, sig) == ticket.sender, "invalid signature over ticket hash");
        require(uint256(keccak256(abi.encodePacked(sig, recipientRand))) < ticket.winProb, "ticket did not win");

        Sender storage sender = senders[ticket.sender];
        require(sender.deposit > 0 || reserves[ticket.sender].funds > 0, "sender deposit and reserve are zero");
        require(
            sender.withdrawRound == 0 || roundsManager().currentRound() < sender.withdrawRound,
            "sender is unlocked"
        );
        usedTickets[ticketHash] = true;

        uint256 amount;
        if (ticket.faceValue > sender.deposit) {
            uint256 claimed = _claimFromReserve(ticket.sender, ticket.recipient, ticket.faceValue - sender.deposit);
            amount = sender.deposit + claimed;
            sender.deposit = 0;
        } else {
            amount = ticket.faceValue;
            sender.deposit -= ticket.faceValue;
        }
        emit WinningTicketRedeemed(
            ticket.sender,
            ticket.recipient,
            ticket.faceValue,
            ticket.winProb,
            ticket.senderNonce,
            recipientRand,
            ticket.auxData
        );
        if (amount > 0) {
            emit WinningTicketTransfer(ticket.sender, ticket.recipient, amount);
            (bool ok, ) = ticket.recipient.call{value: amount}("");
            require(ok, "winning ticket transfer failed");
        }
    }

    /// Redeems each ticket on its own: one that fails does not undo the others.
    function batchRedeemWinningTickets(
        Ticket[] memory tickets,
        bytes[] memory sigs,
        uint256[] memory recipientRands
    ) external {
        require(
            tickets.length == sigs.length && tickets.length == recipientRands.length,
            "batch arrays differ in length"
        );
        for (uint256 i = 0; i < tickets.length; i++) {
            try this.redeemWinningTicket(tickets[i], sigs[i], recipientRands[i]) {} catch {}
        }
    }

    // --- internals ----------------------------------------------------------------------

    function _fundDeposit(uint256 amount) private {
        senders[msg.sender].deposit += amount;
        emit DepositFunded(msg.sender, amount);
    }

    function _fundReserve(uint256 amount) private {
        reserves[msg.sender].funds += amount;
        emit ReserveFunded(msg.sender, amount);
    }

    function _requireValidAuxData(bytes memory auxData) private view {
        require(auxData.length == 64, "invalid length for ticket auxData: must be 64 bytes");
        (uint256 creationRound, bytes32 creationRoundBlockHash) = abi.decode(auxData, (uint256, bytes32));
        IRoundsManager rounds = roundsManager();
        bytes32 blockHash = rounds.blockHashForRound(creationRound);
        require(blockHash != bytes32(0), "ticket creationRound does not have a block hash");
        require(creationRoundBlockHash == blockHash, "ticket creationRound blockHash invalid");
        require(creationRound + ticketValidityPeriod > rounds.currentRound(), "ticket is expired");
    }

    /// Up to `amount` of `holder`'s reserve for `claimant`: an active orchestrator's equal share
    /// of the reserve as it stood at the start of the round, less what it already claimed.
    function _claimFromReserve(address holder, address claimant, uint256 amount) private returns (uint256) {
        IBondingManager bonding = bondingManager();
        if (!bonding.isActiveTranscoder(claimant)) {
            return 0;
        }
        uint256 poolSize = bonding.getTranscoderPoolSize();
        Reserve storage reserve = reserves[holder];
        uint256 round = roundsManager().currentRound();
        uint256 allocation = (reserve.funds + reserve.claimedForRound[round]) / poolSize;
        uint256 claimed = reserve.claimed[round][claimant];
        uint256 claimable = allocation > claimed ? allocation - claimed : 0;
        uint256 claim = amount < claimable ? amount : claimable;
        if (claim > 0) {
            reserve.funds -= claim;
            reserve.claimedForRound[round] += claim;
            reserve.claimed[round][claimant] += claim;
            emit ReserveClaimed(holder, claimant, claim);
        }
        return claim;
    }

    /// The EIP-191 signer of `hash`; the zero address for a malformed or high-s signature.
    function _signer(bytes32 hash, bytes memory sig) private pure returns (address) {
        if (sig.length != 65) {
            return address(0);
        }
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        if (uint256(s) > SECP256K1_HALF_N || (v != 27 && v != 28)) {
            return address(0);
        }
        return ecrecover(keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash)), v, r, s);
    }
}
