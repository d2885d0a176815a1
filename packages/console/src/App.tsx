import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useState } from 'react';
import { Navigate, NavLink, Route, Routes, useLocation } from 'react-router';
import { session, setUnauthorizedHandler } from './api/client.js';
import { ErrorBoundary } from './components/ErrorBoundary.js';
import { type LiveState, useLiveChanges } from './live.js';
import { AuditPage } from './pages/AuditPage.js';
import { CanariesPage, CanaryPage } from './pages/CanariesPage.js';
import { ClientsPage } from './pages/ClientsPage.js';
import { FlagPage } from './pages/FlagPage.js';
import { FlagsPage } from './pages/FlagsPage.js';
import { IntegrationsPage } from './pages/IntegrationsPage.js';
import { NewFlagPage } from './pages/NewFlagPage.js';
import { SecretsPage } from './pages/SecretsPage.js';
import { SignInPage } from './pages/SignInPage.js';
import { TokensPage } from './pages/TokensPage.js';

export function App() {
  const queryClient = useQueryClient();
  const [signedIn, setSignedIn] = useState(() => session.token() !== null);
  const [expired, setExpired] = useState(false);
  const location = useLocation();

  const signOut = useCallback(() => {
    session.signOut();
    queryClient.clear();
    setSignedIn(false);
  }, [queryClient]);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setExpired(true);
      signOut();
    });
  }, [signOut]);

  if (!signedIn) {
    return (
      <SignInPage
        expired={expired}
        onSignedIn={() => {
          setExpired(false);
          setSignedIn(true);
        }}
      />
    );
  }

  return <SignedIn signOut={signOut} pathname={location.pathname} />;
}

const LIVE_LABEL: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};

/** The signed-in shell: navigation, the live-updates indicator, and the pages. */
function SignedIn({ signOut, pathname }: { signOut: () => void; pathname: string }) {
  const live = useLiveChanges();
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Runtime Control</span>
        <nav aria-label="Main">
          <NavLink to="/flags">Flags</NavLink>
          <NavLink to="/clients">Clients</NavLink>
          <NavLink to="/canaries">Canaries</NavLink>
          <NavLink to="/secrets">Secrets</NavLink>
          <NavLink to="/audit">Audit log</NavLink>
          <NavLink to="/tokens">Tokens</NavLink>
          <NavLink to="/integrations">Integrations</NavLink>
        </nav>
        <span className={`live live-${live}`} role="status" data-live={live}>
          {LIVE_LABEL[live]}
        </span>
        <button type="button" className="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main">
        <ErrorBoundary resetKey={pathname}>
          <Routes>
            <Route path="/" element={<Navigate to="/flags" replace />} />
            <Route path="/flags" element={<FlagsPage />} />
            <Route path="/new-flag" element={<NewFlagPage />} />
            <Route path="/flags/:key" element={<FlagPage />} />
            <Route path="/clients" element={<ClientsPage />} />
            <Route path="/canaries" element={<CanariesPage />} />
            <Route path="/canaries/:service" element={<CanaryPage />} />
            <Route path="/audit" element={<AuditPage />} />
            <Route path="/secrets" element={<SecretsPage />} />
            <Route path="/tokens" element={<TokensPage />} />
            <Route path="/integrations" element={<IntegrationsPage />} />
            <Route path="*" element={<NotFound />} />
          </Routes>
        </ErrorBoundary>
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No console page here. <NavLink to="/flags">Back to flags</NavLink>
      </p>
    </section>
  );
}
